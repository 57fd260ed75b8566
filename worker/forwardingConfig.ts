/**
 * The forwarding part of the configuration: `FORWARD_RULES` (JSON, or `@path` to a JSON file),
 * `FORWARD_FROM`, `SMTP_URL`, `FORWARD_FAILED_VERDICTS`, `FORWARD_MAX_BYTES`. Forwarding is off
 * while `FORWARD_RULES` is unset; with it, `FORWARD_FROM` and `SMTP_URL` are required. Every
 * problem is one line naming the variable (and the file), which loadConfig turns into a
 * ConfigError.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Either } from 'fp-ts/Either';
import { left, right } from 'fp-ts/Either';
import type { EmailAddress } from '../domain/address';
import type { FailedVerdictHandling, ForwardingSettings } from '../domain/forwarding/policy';
import { decodeForwardRules, ruleCount } from '../domain/forwarding/rules';
import type { SmtpTimeouts } from '../adapters/mail/smtp';
import { maskUrlCredentials } from '../domain/redact';

export interface ForwardingConfig extends ForwardingSettings {
  readonly smtpUrl: string;
  readonly smtpTimeouts: SmtpTimeouts;
  /** `inline` (the variable holds the JSON) or the rules file's absolute path: for the logs. */
  readonly rulesSource: string;
  readonly ruleCount: number;
  /** AWS_ENDPOINT_URL(_S3) is set: S3 requests go to it with the bucket in the path. */
  readonly s3CustomEndpoint: boolean;
}

/** The variables, as EnvCodec decoded them. */
export interface ForwardingEnv {
  readonly FORWARD_RULES?: string;
  readonly FORWARD_FROM?: EmailAddress;
  readonly SMTP_URL?: string;
  readonly FORWARD_FAILED_VERDICTS?: FailedVerdictHandling;
  readonly FORWARD_MAX_BYTES?: number;
  readonly SMTP_CONNECTION_TIMEOUT_MS?: number;
  readonly SMTP_GREETING_TIMEOUT_MS?: number;
  readonly SMTP_SOCKET_TIMEOUT_MS?: number;
  readonly AWS_ENDPOINT_URL?: string;
  readonly AWS_ENDPOINT_URL_S3?: string;
}

/** 10 MiB: SES's long-standing message limit (40 MB now), and a modest ceiling for memory. */
export const DEFAULT_FORWARD_MAX_BYTES = 10 * 1024 * 1024;

/** Long enough for a slow relay, short enough that a silent one frees its slot (docs/configuration.md). */
export const DEFAULT_SMTP_TIMEOUTS: SmtpTimeouts = {
  connectionMs: 10_000,
  greetingMs: 10_000,
  socketMs: 60_000,
};

export function forwardingConfig(
  env: ForwardingEnv,
  readText: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Either<string, ForwardingConfig | null> {
  if (env.FORWARD_RULES === undefined) return right(null);

  const spec = env.FORWARD_RULES.trim();
  let where = 'FORWARD_RULES';
  let rulesSource = 'inline';
  let text = spec;
  if (spec.startsWith('@')) {
    rulesSource = resolve(spec.slice(1).trim());
    where = `FORWARD_RULES (${rulesSource})`;
    try {
      text = readText(rulesSource);
    } catch (error) {
      return left(`FORWARD_RULES: cannot read ${rulesSource}: ${(error as Error).message}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return left(`${where}: expected JSON (or @path to a JSON file): ${(error as Error).message}`);
  }
  const rules = decodeForwardRules(json);
  if (rules._tag === 'Left') return left(`${where}: ${rules.left.message}`);

  if (env.FORWARD_FROM === undefined) {
    return left(
      'FORWARD_FROM: expected the verified address to forward from (required with FORWARD_RULES), got ""',
    );
  }
  if (env.SMTP_URL === undefined) {
    return left(
      'SMTP_URL: expected an smtp:// or smtps:// URL (required with FORWARD_RULES), got ""',
    );
  }
  if (!isSmtpUrl(env.SMTP_URL)) {
    return left(
      `SMTP_URL: expected an smtp:// or smtps:// URL, got ${JSON.stringify(maskUrlCredentials(env.SMTP_URL))}`,
    );
  }
  return right({
    rules: rules.right,
    from: env.FORWARD_FROM,
    failedVerdicts: env.FORWARD_FAILED_VERDICTS ?? 'drop',
    maxBytes: env.FORWARD_MAX_BYTES ?? DEFAULT_FORWARD_MAX_BYTES,
    smtpUrl: env.SMTP_URL,
    smtpTimeouts: {
      connectionMs: env.SMTP_CONNECTION_TIMEOUT_MS ?? DEFAULT_SMTP_TIMEOUTS.connectionMs,
      greetingMs: env.SMTP_GREETING_TIMEOUT_MS ?? DEFAULT_SMTP_TIMEOUTS.greetingMs,
      socketMs: env.SMTP_SOCKET_TIMEOUT_MS ?? DEFAULT_SMTP_TIMEOUTS.socketMs,
    },
    rulesSource,
    ruleCount: ruleCount(rules.right),
    s3CustomEndpoint: env.AWS_ENDPOINT_URL_S3 !== undefined || env.AWS_ENDPOINT_URL !== undefined,
  });
}

function isSmtpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '';
}
