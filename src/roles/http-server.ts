import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../config/config.schema.ts';
import type { Stop } from './role.ts';

/** Listens on HTTP_HOST:HTTP_PORT with the connection limits from the configuration; returns the URL it listens at and its stop. */
export async function listenHttp(config: Config, handle: http.RequestListener): Promise<{ url: string; stop: Stop }> {
  const server = http.createServer(handle);
  server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_S * 1000;
  server.headersTimeout = config.HTTP_HEADERS_TIMEOUT_S * 1000;
  server.requestTimeout = 0; // uploads of several GiB take long; idle sockets are timed out instead:
  server.timeout = config.HTTP_IDLE_TIMEOUT_S * 1000; // nothing in or out for this long: closed
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.HTTP_PORT, config.HTTP_HOST, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  const stop = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => { server.closeAllConnections(); resolve(); }, config.HTTP_STOP_GRACE_S * 1000).unref();
  });
  return { url, stop };
}
