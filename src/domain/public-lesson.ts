/**
 * A lesson as the public catalog shows it (lists and detail): the API's answer and the pages' view of
 * it share this one definition (web/api/types.ts imports it).
 */
export interface PublicLesson {
  id: string;
  title: string;
  description: string;
  kind: 'recorded' | 'live';
  school: { id: string; code: string; name: string };
  teacher: { name: string };
  stage: { code: string; label: string };
  grade: { code: string; label: string };
  subject: { code: string; label: string };
  type: { code: string; label: string };
  edition: { code: string; label: string };
  scheduledStart: string | null;
  scheduledEnd: string | null;
  publishedAt: string | null;
  durationS: number | null;
  poster: string | null;
  playback: { hls: string } | null;
}
