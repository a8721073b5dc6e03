/** The one shape of an id (lessons, assets, questions, timetables, uploads...): a UUID, any case. */
export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (s: string): boolean => uuidPattern.test(s);
