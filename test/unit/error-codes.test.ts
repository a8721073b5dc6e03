import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../src/domain/error-codes.ts';
import { errorMessages } from '../../web/i18n/zh-CN.ts';

describe('error codes', () => {
  it('when a code is listed, then the page catalog has a Chinese message for it', () => {
    const missing = errorCodes.filter((c) => !/[\u4e00-\u9fff]/.test((errorMessages as Record<string, string>)[c] ?? ''));
    expect(missing).toEqual([]);
  });

  it('when the catalog has a message, then its code is one the API can send', () => {
    const unknown = Object.keys(errorMessages).filter((c) => !(errorCodes as readonly string[]).includes(c));
    expect(unknown).toEqual([]);
  });

  it('when codes are listed, then each is snake_case and listed once', () => {
    expect(errorCodes.filter((c) => !/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(c))).toEqual([]);
    expect(new Set(errorCodes).size).toBe(errorCodes.length);
  });
});
