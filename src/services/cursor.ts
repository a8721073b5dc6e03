import { InvalidError } from '../domain/errors.ts';

/** Opaque paging cursor over a (time, id) order: stable under inserts, never a page twice. */
export const encodeCursor = (at: Date, id: string): string => Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');

export function decodeCursor(cursor: string): { at: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const d = new Date(at);
    if (Number.isNaN(d.getTime()) || !/^[0-9a-f-]{36}$/.test(id)) throw new Error('bad');
    return { at: d, id };
  } catch {
    throw new InvalidError('invalid_cursor', 'cursor is not one this API issued', [{ field: 'cursor', message: 'invalid cursor' }]);
  }
}
