import { InvalidError } from '../domain/errors.ts';
import { isUuid } from '../domain/ids.ts';

/** The one paging cursor: opaque, over a (time, id) order, stable under inserts, never a page twice. */
export const encodeCursor = (at: Date, id: string): string => Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');

export function decodeCursor(cursor: string): { at: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const d = new Date(at);
    if (Number.isNaN(d.getTime()) || typeof id !== 'string' || !isUuid(id)) throw new Error('bad');
    return { at: d, id };
  } catch {
    throw new InvalidError('invalid_cursor', 'cursor is not one this API issued', [{ field: 'cursor', message: 'invalid cursor' }]);
  }
}

/** Adds "after the cursor" in the (at, id) order (`desc` or `asc`) to `where`, its values to `params`. */
export function afterCursorWhere(cursor: string | undefined, cols: { at: string; id: string }, dir: 'asc' | 'desc', where: string[], params: unknown[]): void {
  if (!cursor) return;
  const c = decodeCursor(cursor);
  params.push(c.at, c.id);
  where.push(`(${cols.at}, ${cols.id}) ${dir === 'desc' ? '<' : '>'} ($${params.length - 1}, $${params.length})`);
}
