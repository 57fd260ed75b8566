/**
 * The plain-text notice SES publishes to an SNS topic when the topic is added as an event
 * destination of a configuration set (captured: test/fixtures/captured/ses/
 * laravel-ses-setup-notice.json). It is the only text `Message` the worker accepts, and only
 * this exact text: anything else that is not SES JSON stays poison.
 */
import * as t from 'io-ts';

export const SES_SETUP_NOTICE = 'Successfully validated SNS topic for Amazon SES event publishing.';
export type SesSetupNotice = typeof SES_SETUP_NOTICE;

/** The SNS `Message`: the setup notice, or SES JSON decoded by `json`. */
export const setupNoticeOr = <C extends t.Mixed>(
  json: C,
): t.Type<t.TypeOf<C> | SesSetupNotice, unknown, unknown> =>
  new t.Type<t.TypeOf<C> | SesSetupNotice, unknown, unknown>(
    json.name,
    (u): u is t.TypeOf<C> | SesSetupNotice => u === SES_SETUP_NOTICE || json.is(u),
    (u, c) => (u === SES_SETUP_NOTICE ? t.success(SES_SETUP_NOTICE) : json.validate(u, c)),
    t.identity,
  );
