import { adiFileNames } from './adi-xml.ts';

/**
 * Keys in the cable-outbox bucket (DESIGN.md storage layout): one folder per package,
 * `{packageId}/ADI.XML` (written last), `movie.ts`, `poster.jpg`.
 */
export type CablePackageFile = (typeof adiFileNames)[keyof typeof adiFileNames];

const packageIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const cablePackagePrefix = (packageId: string): string => {
  if (!packageIdPattern.test(packageId)) throw new RangeError(`not a package id: ${packageId}`);
  return `${packageId}/`;
};

export const cablePackageKey = (packageId: string, file: CablePackageFile): string => `${cablePackagePrefix(packageId)}${file}`;
