import { Writable } from 'node:stream';
import { makeLogger } from '../../../adapters/logger';
import { redisConnectionErrors } from '../../../worker/redisConnectionErrors';

function logged() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, errors: redisConnectionErrors(makeLogger('info', destination)) };
}

const wrongPass = () =>
  Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), {
    name: 'ReplyError',
  });
const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });

describe('redisConnectionErrors', () => {
  it('logs an error once per outage, on any connection, however often it repeats', () => {
    const { lines, errors } = logged();
    for (let i = 0; i < 50; i++) {
      errors.error('producer', wrongPass());
      errors.error('worker', wrongPass());
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'error',
      connection: 'producer',
      err: { message: 'WRONGPASS invalid username-password pair or user is disabled.' },
      hint: 'Redis refused the user or password in REDIS_URL or REDIS_CLUSTER_NODES',
    });
    errors.error('worker', refused());
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ err: { code: 'ECONNREFUSED' } });
    expect(lines[1]).not.toHaveProperty('hint');
  });

  it('once every failed connection is ready again, says so, and the same error is news again', () => {
    const { lines, errors } = logged();
    errors.error('producer', wrongPass());
    errors.error('worker', wrongPass());
    errors.ready('producer');
    errors.error('producer', wrongPass());
    expect(lines).toHaveLength(1);
    errors.ready('producer');
    errors.ready('worker');
    expect(lines[1]).toMatchObject({ level: 'info', msg: 'redis connection ready again' });
    // A connection that never failed being ready says nothing.
    errors.ready('worker');
    errors.error('worker', wrongPass());
    expect(lines.map((line) => line.msg)).toEqual([
      expect.stringMatching(/^redis connection error/),
      'redis connection ready again',
      expect.stringMatching(/^redis connection error/),
    ]);
  });

  it('redacts: no credential from a URL, no address', () => {
    const { lines, errors } = logged();
    errors.error(
      'worker',
      new Error('getaddrinfo ENOTFOUND redis://admin:s3cr3t@redis.internal for jane@example.com'),
    );
    const text = JSON.stringify(lines);
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('jane@example.com');
  });

  it('past ten distinct errors in one outage, one line says the rest are not logged', () => {
    const { lines, errors } = logged();
    for (let i = 0; i < 15; i++) errors.error('worker', new Error(`error ${i}`));
    expect(lines).toHaveLength(11);
    expect(lines[10]?.msg).toMatch(/not logged until Redis is back/);
  });
});
