import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../src/domain/error-codes.ts';
import { processingFailureCodes } from '../../src/domain/processing-failures.ts';
import { errorMessages, processingFailureMessages } from '../../web/i18n/zh-CN.ts';

describe('error codes', () => {
  it('when a code is listed, then the page catalog has a Chinese message for it', () => {
    const missing = errorCodes.filter((c) => !/[\u4e00-\u9fff]/.test((errorMessages as Record<string, string>)[c] ?? ''));
    expect(missing).toEqual([]);
  });

  it('when the catalog has a message, then its code is one the API can send', () => {
    const unknown = Object.keys(errorMessages).filter((c) => !(errorCodes as readonly string[]).includes(c));
    expect(unknown).toEqual([]);
  });

  it('when a processing failure code is listed, then the catalog has a Chinese message for it and nothing else', () => {
    const messages = processingFailureMessages as Record<string, string>;
    expect(processingFailureCodes.filter((c) => !/[\u4e00-\u9fff]/.test(messages[c] ?? ''))).toEqual([]);
    expect(Object.keys(messages).filter((c) => !(processingFailureCodes as readonly string[]).includes(c))).toEqual([]);
  });

  it('when codes are listed, then each is snake_case and listed once', () => {
    expect(errorCodes.filter((c) => !/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(c))).toEqual([]);
    expect(new Set(errorCodes).size).toBe(errorCodes.length);
  });
});
