/** The metrics and reputation variables: defaults, bounds, and one line naming a bad one. */
import { SES_THRESHOLDS } from '../../../domain/reputation';
import { ConfigError, loadConfig } from '../../../worker/config';

const failure = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('reputation configuration', () => {
  it('defaults to SES’s levels, 100 recipients, a minute, no webhook', () => {
    const config = loadConfig({});
    expect(config.reputation).toEqual({
      policy: { thresholds: SES_THRESHOLDS, minVolume: 100 },
      evaluateMs: 60_000,
      webhookUrl: null,
    });
    expect(config.metricsMaxIdentities).toBe(100);
    expect(config.metricsMaxTemplates).toBe(100);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      REPUTATION_BOUNCE_WARN: '0.02',
      REPUTATION_BOUNCE_CRITICAL: '.04',
      REPUTATION_COMPLAINT_WARN: '0.0005',
      REPUTATION_COMPLAINT_CRITICAL: '0.001',
      REPUTATION_MIN_VOLUME: '0',
      REPUTATION_EVALUATE_SECONDS: '15',
      REPUTATION_WEBHOOK_URL: 'https://hooks.example.com/ses?token=x',
      METRICS_MAX_IDENTITIES: '20',
      METRICS_MAX_TEMPLATES: '30',
    });
    expect(config.reputation).toEqual({
      policy: {
        thresholds: {
          bounce: { warn: 0.02, critical: 0.04 },
          complaint: { warn: 0.0005, critical: 0.001 },
        },
        minVolume: 0,
      },
      evaluateMs: 15_000,
      webhookUrl: 'https://hooks.example.com/ses?token=x',
    });
    expect(config.metricsMaxIdentities).toBe(20);
    expect(config.metricsMaxTemplates).toBe(30);
  });

  it('a rate is a fraction: "5" or "5%" stops start-up with the variable named', () => {
    expect(failure({ REPUTATION_BOUNCE_WARN: '5' })).toBe(
      'REPUTATION_BOUNCE_WARN: expected a fraction from 0 to 1 (0.05 = 5 %), got "5"',
    );
    expect(failure({ REPUTATION_COMPLAINT_CRITICAL: '0.5%' })).toMatch(
      /^REPUTATION_COMPLAINT_CRITICAL: expected a fraction/,
    );
    expect(failure({ REPUTATION_BOUNCE_CRITICAL: '0' })).toMatch(/^REPUTATION_BOUNCE_CRITICAL: /);
  });

  it('a warn level must stay below its critical level', () => {
    expect(failure({ REPUTATION_BOUNCE_WARN: '0.2' })).toBe(
      'REPUTATION_BOUNCE_WARN: expected less than REPUTATION_BOUNCE_CRITICAL (0.1), got 0.2',
    );
    expect(
      failure({ REPUTATION_COMPLAINT_WARN: '0.002', REPUTATION_COMPLAINT_CRITICAL: '0.002' }),
    ).toMatch(/^REPUTATION_COMPLAINT_WARN: expected less than REPUTATION_COMPLAINT_CRITICAL/);
  });

  it('the webhook is an http(s) URL; the interval at least a second', () => {
    expect(failure({ REPUTATION_WEBHOOK_URL: 'ftp://example.com/x' })).toMatch(
      /^REPUTATION_WEBHOOK_URL: expected a http:\/\/ or https:\/\/ URL/,
    );
    expect(failure({ REPUTATION_EVALUATE_SECONDS: '0' })).toMatch(/^REPUTATION_EVALUATE_SECONDS: /);
    expect(failure({ METRICS_MAX_IDENTITIES: '0' })).toMatch(/^METRICS_MAX_IDENTITIES: /);
  });
});
