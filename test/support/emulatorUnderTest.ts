/**
 * An emulator shared by a jest test file (jest's hooks: test/chaos, compiled without jest's
 * types, uses test/support/sqs.ts but not this).
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { startEmulator, type EmulatorServer } from './servers';
import { clientsFor } from './sqs';

export interface EmulatorUnderTest {
  emulator: EmulatorServer;
  sqs: SQSClient;
  sns: SNSClient;
}

/**
 * An emulator and SDK clients on it for the whole test file: started before its tests, stopped
 * after them. The object is filled in by `beforeAll`; read it inside tests and hooks.
 */
export function useEmulator(): EmulatorUnderTest {
  const servers = {} as EmulatorUnderTest;
  beforeAll(async () => {
    servers.emulator = await startEmulator();
    Object.assign(servers, clientsFor(servers.emulator));
  });
  afterAll(async () => {
    servers.sqs?.destroy();
    servers.sns?.destroy();
    await servers.emulator?.stop();
  });
  return servers;
}
