/**
 * A certificate authority made in the test, the certificates it issues, and an HTTPS server
 * standing in for SNS's certificate host — so signature verification is tested against real
 * TLS, real X.509 and real RSA signatures, without the internet.
 *
 * Keys come from Node's crypto (fast, native); node-forge only assembles and signs the
 * certificates, which Node cannot do.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';

export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface TestPki {
  readonly caPem: string;
  issue(options: {
    commonName: string;
    dnsNames?: readonly string[];
    ipAddresses?: readonly string[];
    notBefore?: Date;
    notAfter?: Date;
  }): IssuedCertificate;
}

const DAY = 86_400_000;
let serial = 1;

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    publicKey: forge.pki.publicKeyFromPem(publicPem),
    privateKey: forge.pki.privateKeyFromPem(privatePem),
    privatePem,
  };
}

export function makeTestPki(): TestPki {
  const ca = keyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.publicKey;
  caCert.serialNumber = String(serial++).padStart(2, '0');
  caCert.validity.notBefore = new Date(Date.now() - DAY);
  caCert.validity.notAfter = new Date(Date.now() + 30 * DAY);
  const caName = [{ name: 'commonName', value: 'ses-worker test CA' }];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());

  return {
    caPem: forge.pki.certificateToPem(caCert),
    issue(options) {
      const keys = keyPair();
      const cert = forge.pki.createCertificate();
      cert.publicKey = keys.publicKey;
      cert.serialNumber = String(serial++).padStart(2, '0');
      cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - DAY);
      cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 30 * DAY);
      cert.setSubject([{ name: 'commonName', value: options.commonName }]);
      cert.setIssuer(caName);
      const altNames = [
        ...(options.dnsNames ?? []).map((value) => ({ type: 2, value })),
        ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
      ];
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
      ]);
      cert.sign(ca.privateKey, forge.md.sha256.create());
      return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
    },
  };
}

/** The fields SNS signs, in its order (ses-formats.md §1), written out independently here. */
export function snsStringToSign(
  envelope: Readonly<Record<string, string | null | undefined>>,
): string {
  const fields =
    envelope.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return fields
    .filter((name) => envelope[name] !== undefined && envelope[name] !== null)
    .map((name) => `${name}\n${envelope[name]}\n`)
    .join('');
}

/** Signs an envelope as SNS does: `SignatureVersion` 1 (SHA1) or 2 (SHA256). */
export function signEnvelope(
  envelope: Record<string, string | undefined>,
  keyPem: string,
  certUrl: string,
  version: '1' | '2' = '2',
): Record<string, string | undefined> {
  const signature = sign(
    version === '1' ? 'RSA-SHA1' : 'RSA-SHA256',
    Buffer.from(snsStringToSign(envelope), 'utf8'),
    keyPem,
  ).toString('base64');
  return { ...envelope, SignatureVersion: version, Signature: signature, SigningCertURL: certUrl };
}

export interface CertHost {
  /** `https://localhost:<port>` */
  readonly origin: string;
  /** Requests per path, to see the cache work. */
  readonly requests: Map<string, number>;
  close(): Promise<void>;
}

/**
 * An HTTPS server on a free port serving `routes`: a path → PEM text, or a function answering
 * the request itself (redirects, errors, silence).
 */
export async function startCertHost(
  pki: TestPki,
  routes: Readonly<Record<string, string | ((response: ServerResponse) => void)>>,
): Promise<CertHost> {
  const tls = pki.issue({
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const requests = new Map<string, number>();
  const server: Server = createServer(
    { key: tls.keyPem, cert: tls.certPem },
    (request, response) => {
      const path = request.url ?? '/';
      requests.set(path, (requests.get(path) ?? 0) + 1);
      const route = routes[path];
      if (route === undefined) {
        response.writeHead(404).end('not found');
      } else if (typeof route === 'string') {
        response.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(route);
      } else {
        route(response);
      }
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://localhost:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
