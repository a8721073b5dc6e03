import { liveLedgerHeadKey, liveLedgerPageKey, type LedgerName } from '../media/storage-keys.ts';
import { ledgerFrom, ledgerHead, ledgerHeadSchema, ledgerPage, ledgerPageSchema, sealedPageCount, type LiveLedger } from '../media/live-ledger.ts';
import { isMissingObject, type ObjectStorage } from './storage.ts';

/**
 * A live session's ledger (src/media/live-ledger.ts) in object storage, next to its segments: sealed
 * pages are written once, then the small head that names them. A worker that takes a stalled session
 * over loads it and continues the same playlists and recording.
 */
export class LiveLedgerStore {
  /** Sealed pages already in storage (written by this store or found by `load`). */
  private persistedPages = 0;

  constructor(
    private readonly storage: ObjectStorage,
    private readonly sessionId: string,
    private readonly name: LedgerName = 'transcode',
  ) {}

  /** The stored ledger, or null when the session has none yet. */
  async load(): Promise<LiveLedger | null> {
    const bucket = this.storage.mediaBucket;
    let raw: Buffer;
    try {
      raw = await this.storage.getBuffer(bucket, liveLedgerHeadKey(this.sessionId, this.name));
    } catch (err) {
      if (isMissingObject(err)) return null;
      throw err;
    }
    const head = ledgerHeadSchema.parse(JSON.parse(raw.toString('utf8')));
    const pages = [];
    for (let k = 0; k < head.sealedPages; k++) {
      pages.push(ledgerPageSchema.parse(JSON.parse((await this.storage.getBuffer(bucket, liveLedgerPageKey(this.sessionId, k, this.name))).toString('utf8'))));
    }
    this.persistedPages = head.sealedPages;
    return ledgerFrom(head, pages);
  }

  /** Writes the pages sealed since the last save, then the head that names them. */
  async save(ledger: LiveLedger): Promise<void> {
    const bucket = this.storage.mediaBucket;
    const sealed = sealedPageCount(ledger);
    for (let k = this.persistedPages; k < sealed; k++) {
      await this.storage.putBuffer(bucket, liveLedgerPageKey(this.sessionId, k, this.name), JSON.stringify(ledgerPage(ledger, k)), 'application/json');
      this.persistedPages = k + 1;
    }
    await this.storage.putBuffer(bucket, liveLedgerHeadKey(this.sessionId, this.name), JSON.stringify(ledgerHead(ledger)), 'application/json');
  }
}
