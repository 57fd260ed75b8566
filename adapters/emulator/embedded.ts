/**
 * The embedded SQS/SNS/S3 emulator (fauxqs, in-process): what `npm start` runs on when no
 * queue is configured. It speaks the AWS wire protocol, so the worker uses the real SDK
 * against it. State lives in memory and ends with the process.
 */
export interface EmbeddedEmulator {
  readonly endpoint: string;
  readonly region: string;
  stop(): Promise<void>;
}

/** Emulators accept any credentials; these keep the SDK from looking for real ones. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;
export const EMULATOR_REGION = 'us-east-1';

export async function startEmbeddedEmulator(port = 0): Promise<EmbeddedEmulator> {
  // fauxqs ships as an ES module; a dynamic import loads it from this CommonJS build.
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port, logger: false, defaultRegion: EMULATOR_REGION });
  return { endpoint: server.address, region: EMULATOR_REGION, stop: () => server.stop() };
}
