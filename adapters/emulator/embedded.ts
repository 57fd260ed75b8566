/**
 * The embedded SQS/SNS/S3 emulator (fauxqs, in-process): what `npm start` runs on when no
 * queue is configured. It speaks the AWS wire protocol, so the worker uses the real SDK
 * against it. State lives in memory and ends with the process.
 */
export interface EmbeddedEmulator {
  /** `http://127.0.0.1:<port>`: the same on every run at a fixed port. */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  stop(): Promise<void>;
}

/** Emulators accept any credentials; these keep the SDK from looking for real ones. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;
export const EMULATOR_REGION = 'us-east-1';

/** The port is taken by another process: a second `npm start`, LocalStack, a compose stack. */
export class EmulatorPortInUseError extends Error {
  override readonly name = 'EmulatorPortInUseError';
  constructor(
    readonly port: number,
    options: ErrorOptions,
  ) {
    super(`port ${port} is already in use`, options);
  }
}

/**
 * Starts fauxqs on `port` (0: a free one). fauxqs listens on every interface; its queue URLs
 * are `http://sqs.<region>.localhost:<port>/000000000000/<name>`, so they change only with
 * the port.
 */
export async function startEmbeddedEmulator(port: number): Promise<EmbeddedEmulator> {
  // fauxqs ships as an ES module; a dynamic import loads it from this CommonJS build.
  const { startFauxqs } = await import('fauxqs');
  let server: Awaited<ReturnType<typeof startFauxqs>>;
  try {
    server = await startFauxqs({ port, logger: false, defaultRegion: EMULATOR_REGION });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new EmulatorPortInUseError(port, { cause: error });
    throw error;
  }
  return {
    // Built from the port, not taken from the listener: 127.0.0.1 whatever it reports.
    endpoint: `http://127.0.0.1:${server.port}`,
    port: server.port,
    region: EMULATOR_REGION,
    stop: () => server.stop(),
  };
}
