/** Typed service errors; the API's error handler maps each to one HTTP status. */
export class DomainError extends Error {
  readonly status: number = 500;
  readonly type: string = 'about:blank';
  constructor(message: string, readonly details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
  }
}
export class InvalidError extends DomainError {
  override readonly status = 400;
  constructor(message: string, readonly fields?: { field: string; message: string }[]) {
    super(message, fields ? { errors: fields } : undefined);
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
  constructor(message: string, readonly retryAfterS: number) { super(message); }
}
export class UnavailableError extends DomainError { override readonly status = 503; }
