import type { ErrorCode } from './error-codes.ts';

/**
 * Typed service errors; the API's error handler maps each to one HTTP status. Every error names its
 * machine `code` first (see error-codes.ts): `new NotFoundError('lesson_not_found', 'lesson not found')`.
 */
export class DomainError extends Error {
  readonly status: number = 500;
  readonly type: string = 'about:blank';
  constructor(readonly code: ErrorCode, message: string, readonly details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
  }
}
export class InvalidError extends DomainError {
  override readonly status = 400;
  constructor(code: ErrorCode, message: string, readonly fields?: { field: string; message: string }[]) {
    super(code, message, fields ? { errors: fields } : undefined);
  }
}
export class UnauthorizedError extends DomainError { override readonly status = 401; }
export class ForbiddenError extends DomainError { override readonly status = 403; }
export class NotFoundError extends DomainError { override readonly status = 404; }
export class ConflictError extends DomainError { override readonly status = 409; }
export class PayloadTooLargeError extends DomainError { override readonly status = 413; }
export class UnsupportedMediaError extends DomainError { override readonly status = 415; }
export class TooManyRequestsError extends DomainError {
  override readonly status = 429;
  constructor(code: ErrorCode, message: string, readonly retryAfterS: number) { super(code, message); }
}
export class UnavailableError extends DomainError { override readonly status = 503; }
