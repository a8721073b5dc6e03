import { configSchema, configShape, type Config } from './config.schema.ts';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads the configuration from an environment map (process.env by default). The only reader of
 * process.env in the codebase. Throws ConfigError listing every bad key and why.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Record<keyof Config, string>> = {}): Config {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(configShape)) {
    const v = overrides[key as keyof Config] ?? env[key];
    raw[key] = v === undefined || v === '' ? undefined : v;
  }
  const parsed = configSchema.safeParse(raw);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const cfg = parsed.data;
  if (cfg.SIGNING_SECRET && cfg.SIGNING_SECRET.length < 32) problems.push('SIGNING_SECRET: must be at least 32 characters');
  if (cfg.NODE_ENV === 'production') {
    if (!cfg.SIGNING_SECRET) problems.push('SIGNING_SECRET: required in production (shared by every API process)');
    if (!cfg.DATABASE_URL) problems.push('DATABASE_URL: required in production');
    if (!cfg.REDIS_URL) problems.push('REDIS_URL: required in production');
    if (!cfg.S3_ENDPOINT) problems.push('S3_ENDPOINT: required in production');
    if (cfg.CABLE_PROVIDER_ID.endsWith('.example')) problems.push('CABLE_PROVIDER_ID: set the domain your organisation owns (the default is a placeholder)');
    if (cfg.CABLE_QA_CONTACT.endsWith('.example')) problems.push('CABLE_QA_CONTACT: set a real contact for the cable operator');
    if (!cfg.RTMP_WORKER_PLAY_TOKEN) problems.push('RTMP_WORKER_PLAY_TOKEN: required in production (shared by ingest and worker processes)');
  }
  if (cfg.HTTP_HEADERS_TIMEOUT_S <= cfg.HTTP_KEEP_ALIVE_S) problems.push('HTTP_HEADERS_TIMEOUT_S: must exceed HTTP_KEEP_ALIVE_S (else the headers timer can cut a kept-alive connection before the keep-alive one does)');
  if (cfg.S3_MEDIA_BUCKET === cfg.S3_CABLE_BUCKET) problems.push('S3_CABLE_BUCKET: must differ from S3_MEDIA_BUCKET');
  if (cfg.DATABASE_URL && !/^postgres(ql)?:\/\//.test(cfg.DATABASE_URL)) problems.push('DATABASE_URL: must start with postgres:// or postgresql://');
  if (cfg.REDIS_URL && !/^rediss?:\/\//.test(cfg.REDIS_URL)) problems.push('REDIS_URL: must start with redis:// or rediss://');
  if (cfg.S3_ENDPOINT && !/^https?:\/\//.test(cfg.S3_ENDPOINT)) problems.push('S3_ENDPOINT: must start with http:// or https://');
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

/** Keys and their description and default, for documentation. */
export function describeConfig(): { key: string; description: string; default: string }[] {
  return Object.entries(configShape).map(([key, schema]) => {
    const parsed = (schema as { safeParse: (v: unknown) => { success: boolean; data?: unknown } }).safeParse(undefined);
    const def = parsed.success ? parsed.data : undefined;
    return { key, description: (schema as { description?: string }).description ?? '', default: def === undefined ? '' : String(def) };
  });
}
