/**
 * Every machine `code` an API problem+json can carry. Clients (the pages' message catalog first)
 * translate codes, never the English `detail`; a code once shipped keeps its meaning. Add a code here,
 * then its Chinese message in web/i18n/zh-CN.ts (the catalog `satisfies Record<ErrorCode, string>`, so
 * a missing message does not compile, and test/unit/error-codes.test.ts checks it at run time too).
 */
export const errorCodes = [
  // request shape (any endpoint)
  'validation_failed', 'body_required', 'malformed_json', 'invalid_encoding', 'unsupported_encoding',
  'json_body_required', 'body_too_large', 'length_required', 'unsupported_media_type', 'invalid_content_length',
  'bad_request', 'endpoint_not_found', 'method_not_allowed', 'invalid_cursor', 'internal_error', 'pages_unavailable', 'service_unavailable',
  // authentication and roles
  'authentication_required', 'wrong_credentials', 'login_throttled', 'role_forbidden', 'teacher_only',
  'reviewer_only', 'operator_only', 'moderator_only', 'no_school', 'csrf_token_invalid', 'cross_site_forbidden',
  // people, schools, taxonomy
  'invalid_username', 'password_too_short', 'user_exists', 'user_not_found', 'invalid_code', 'district_exists',
  'district_not_found', 'district_required', 'school_exists', 'school_not_found', 'school_required',
  'taxonomy_item_exists', 'stage_not_found', 'stage_required', 'parent_not_found', 'grade_not_found',
  // lessons, review, publication
  'lesson_not_found', 'invalid_state_transition', 'rejection_reason_required', 'version_not_ready',
  'no_approved_version', 'not_published', 'no_source_to_package',
  // uploads
  'upload_too_large', 'upload_empty', 'upload_not_found', 'upload_not_open', 'part_number_out_of_range',
  'part_size_mismatch', 'parts_missing',
  // live
  'not_a_live_lesson', 'live_already_stopped', 'stop_not_allowed', 'stream_key_unavailable',
  // playback gateway
  'media_not_found', 'range_not_satisfiable', 'storage_unavailable',
  // schedule and timetables
  'end_before_start', 'range_too_long', 'school_or_grade_required', 'timetable_not_found', 'timetable_exists',
  'timetable_forbidden', 'timetable_scope_mismatch', 'timetable_lesson_unknown', 'timetable_version_not_found',
  'timetable_empty', 'timetable_unchanged', 'lesson_already_in_timetable', 'outside_timetable_week',
  'entry_not_found', 'entry_cancelled', 'entry_published', 'live_lesson_time_fixed', 'live_lesson_cancelled',
  'live_lesson_too_long', 'live_plan_unapproved', 'release_time_required', 'not_reschedulable', 'not_cancellable',
  'late_reason_required', 'late_report_forbidden',
  // questions and answers
  'question_not_found', 'answer_not_found', 'image_not_found', 'question_hidden', 'answer_hidden',
  'hidden_state_unchanged', 'answer_author_only', 'question_stage_forbidden', 'too_many_images', 'image_rejected',
  'rate_limited', 'questions_unavailable',
  // lesson edits and administration (staff consoles)
  'title_required', 'schedule_live_only', 'live_schedule_fixed', 'edit_not_found', 'edit_already_decided',
  'cannot_disable_self', 'user_disabled',
] as const;

export type ErrorCode = (typeof errorCodes)[number];
