/** An input error retrying cannot fix (unreadable media, too long): the job fails at once with this message. */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}
