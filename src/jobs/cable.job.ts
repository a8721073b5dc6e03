import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import type { Config } from '../../config/config.schema.ts';
import { cableProfileSchema, resolveCableProfile, type CableProfile } from '../../config/cable-profiles.ts';
import { assetIdPattern, providerIdPattern } from '../media/adi-xml.ts';
import { jobIds, queueNames } from './job-types.ts';

/**
 * Cable packaging job (queue `cable`): one ADI 1.1 package in `cable-outbox/{packageId}/`.
 * `deliver` makes movie.ts + poster.jpg from the source and writes ADI.XML last; `delete` writes only an
 * ADI.XML with Verb="DELETE" on every asset. Everything the package says comes from this payload, so a
 * package can be rebuilt from its record and workers need no cable configuration.
 */
const assetId = z.string().regex(assetIdPattern, '4 letters + 16 digits');
const isoInstant = z.iso.datetime({ offset: true });

export const cableProviderSchema = z.object({
  /** ADI Provider. */
  name: z.string().min(1).max(20),
  /** ADI Provider_ID. */
  id: z.string().regex(providerIdPattern, 'a lower-case domain of at most 20 characters'),
  product: z.string().min(1).max(20),
  /** First Category level (吉林市中小学公益课). */
  categoryRoot: z.string().min(1).max(20),
  rating: z.string().min(1),
  genre: z.string().min(1),
  billingId: z.string().regex(/^[A-Za-z0-9]{1,5}$/),
  previewPeriodS: z.number().int().min(0),
  qaContact: z.string().min(1),
  /** Time zone of ADI dates. */
  timeZone: z.string().min(1),
  /** How the operator counts text limits. */
  textUnit: z.enum(['char', 'utf8', 'gbk']),
});
export type CableProvider = z.infer<typeof cableProviderSchema>;

export const cablePackagePayloadSchema = z
  .object({
    /** Folder in the outbox; one per delivery or withdrawal (see the handler on reuse). */
    packageId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/),
    verb: z.enum(['deliver', 'delete']),
    lessonId: z.string().min(1),
    /** The approved media asset (version) the package is made from. */
    assetId: z.string().min(1),
    /** ADI Version_Major / Version_Minor (a new approved version bumps major; a withdrawal or metadata fix bumps minor). */
    version: z.object({ major: z.number().int().min(0), minor: z.number().int().min(0) }),
    /** Key in the media bucket of the best source: the original upload, or the top live rendition's media playlist. */
    sourceKey: z.string().min(1).optional(),
    /** ADI Asset_IDs minted once per lesson and class by the catalog, never reused. */
    adiIds: z.object({ package: assetId, title: assetId, movie: assetId, poster: assetId }),
    lesson: z.object({
      title: z.string().min(1),
      /** Title_Brief (<= 19); the title cut when absent. */
      titleBrief: z.string().optional(),
      description: z.string().default(''),
      /** 学段 and 学科 labels: Category root/学段/学科. */
      stage: z.string().min(1),
      subject: z.string().min(1),
      /** More Category paths under the root, e.g. [['专题教育', '心理健康']]. */
      extraCategories: z.array(z.array(z.string().min(1)).min(1)).default([]),
    }),
    /** When the cable asset was first created (Creation_Date; kept across versions). */
    createdAt: isoInstant,
    license: z.object({ start: isoInstant, end: isoInstant }),
    provider: cableProviderSchema,
    profile: cableProfileSchema,
  })
  .superRefine((p, ctx) => {
    if (p.verb === 'deliver' && !p.sourceKey) ctx.addIssue({ code: 'custom', path: ['sourceKey'], message: 'a delivery needs the source key' });
    if (Date.parse(p.license.end) <= Date.parse(p.license.start)) ctx.addIssue({ code: 'custom', path: ['license', 'end'], message: 'the licensing window ends before it starts' });
    const ids = Object.values(p.adiIds);
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: 'custom', path: ['adiIds'], message: 'every asset of a package needs its own Asset_ID' });
  });
export type CablePackagePayload = z.input<typeof cablePackagePayloadSchema>;
export type CablePackageJob = z.output<typeof cablePackagePayloadSchema>;

export const cableJobName = 'cable-package';

/** Job id: one job per package folder, version and verb (a withdrawal never collides with its delivery). */
export function cableJobId(p: Pick<CablePackageJob, 'packageId' | 'version' | 'verb'>): string {
  return `${jobIds.cable(p.packageId, p.version.major)}.${p.version.minor}-${p.verb}`;
}

/** Retries with backoff for transient errors (storage, a killed ffmpeg); invalid input fails at once. */
export const cableJobOptions: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 30_000 },
  removeOnComplete: { age: 7 * 86400, count: 5000 },
  removeOnFail: { age: 30 * 86400 },
};

/** Queue name and everything `queues.add` needs for one package. */
export function cableJob(payload: CablePackagePayload): { queue: typeof queueNames.cable; name: string; data: CablePackagePayload; opts: JobsOptions } {
  const p = cablePackagePayloadSchema.parse(payload);
  return { queue: queueNames.cable, name: cableJobName, data: payload, opts: { ...cableJobOptions, jobId: cableJobId(p) } };
}

/** The configured profile with operator overrides (CABLE_PROFILE, CABLE_*_KBPS, CABLE_AUDIO_CODEC, CABLE_GOP, CABLE_X264_PRESET). */
export function cableProfileFromConfig(cfg: Config): CableProfile {
  return resolveCableProfile(cfg.CABLE_PROFILE, {
    videoKbps: cfg.CABLE_VIDEO_KBPS || undefined,
    muxKbps: cfg.CABLE_MUX_KBPS || undefined,
    audioCodec: cfg.CABLE_AUDIO_CODEC === 'profile' ? undefined : cfg.CABLE_AUDIO_CODEC,
    audioKbps: cfg.CABLE_AUDIO_KBPS || undefined,
    gop: cfg.CABLE_GOP || undefined,
    preset: cfg.CABLE_X264_PRESET === 'profile' ? undefined : cfg.CABLE_X264_PRESET,
  });
}

/** Provider settings from config, for the payload. */
export function cableProviderFromConfig(cfg: Config): CableProvider {
  return {
    name: cfg.CABLE_PROVIDER,
    id: cfg.CABLE_PROVIDER_ID,
    product: cfg.CABLE_PRODUCT,
    categoryRoot: cfg.CABLE_CATEGORY_ROOT,
    rating: cfg.CABLE_RATING,
    genre: cfg.CABLE_GENRE,
    billingId: cfg.CABLE_BILLING_ID,
    previewPeriodS: cfg.CABLE_PREVIEW_PERIOD_S,
    qaContact: cfg.CABLE_QA_CONTACT,
    timeZone: cfg.CABLE_TIMEZONE,
    textUnit: cfg.CABLE_TEXT_UNIT,
  };
}

/** Licensing window from a publication instant: CABLE_LICENSE_DAYS long. */
export function cableLicenseWindow(from: Date, days: number): { start: string; end: string } {
  return { start: from.toISOString(), end: new Date(from.getTime() + days * 86_400_000).toISOString() };
}

/** What a finished package job returns in `JobResult.data` (the catalog stores it on the package row). */
export interface CablePackageResultData {
  packageId: string;
  verb: 'deliver' | 'delete';
  lessonId: string;
  assetId: string;
  version: { major: number; minor: number };
  adiIds: { package: string; title: string; movie: string; poster: string };
  bucket: string;
  /** Files in write order, ADI.XML last. */
  files: { name: string; key: string; size: number; md5: string }[];
  profile: string;
  runTimeS?: number;
  bitRateKbps?: number;
  /** True when the package was already in the outbox and nothing was written. */
  alreadyDelivered: boolean;
}

/** Idempotency key of a package result: applying the same one twice changes nothing. */
export const cableResultKey = (p: Pick<CablePackageJob, 'packageId' | 'version' | 'verb'>): string => `cable:${p.packageId}:${p.version.major}.${p.version.minor}:${p.verb}`;
