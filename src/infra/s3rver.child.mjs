// Child process entry of the embedded S3 server (s3rver): argv = port, directory.
import S3rver from 's3rver';

const [port, directory] = process.argv.slice(2);
const server = new S3rver({ port: Number(port), address: '127.0.0.1', directory, silent: true, allowMismatchedSignatures: false });
await server.run();
const stop = async () => { await server.close().catch(() => undefined); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// the parent died without stopping us: do not linger
process.on('disconnect', stop);
setInterval(() => { if (process.ppid === 1) stop(); }, 2000).unref();
