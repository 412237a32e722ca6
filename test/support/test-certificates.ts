import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate and its private key, as PEM file paths. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

/** A throw-away PKI made with `openssl` in a temporary directory. */
export interface TestCertificates {
  readonly dir: string;
  /** The CA that signs the server and the good client (PEM file). */
  readonly ca: string;
  /** The server's certificate, for 127.0.0.1 and localhost (SAN), signed by `ca`. */
  readonly server: CertificateFiles;
  /** A client certificate signed by `ca`. */
  readonly client: CertificateFiles;
  /** A second, unrelated CA (PEM file) and a client certificate it signed. */
  readonly otherCa: string;
  readonly otherClient: CertificateFiles;
  /** Removes the directory and everything in it. */
  remove(): Promise<void>;
}

/**
 * Makes a CA, a server certificate for `127.0.0.1`/`localhost`, a client certificate, and an
 * unrelated CA with its own client certificate (the "wrong certificate"), all EC P-256.
 */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), "xds-certs-"));
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): Promise<unknown> => run("openssl", args, { cwd: dir });
  try {
    const newKey = (name: string): Promise<unknown> =>
      openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path(name));
    const makeCa = async (name: string): Promise<void> => {
      await newKey(`${name}.key`);
      await openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        path(`${name}.key`),
        "-subj",
        `/CN=${name}`,
        "-days",
        "2",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        path(`${name}.pem`),
      );
    };
    const issue = async (
      name: string,
      ca: string,
      extensions: string[],
    ): Promise<CertificateFiles> => {
      await newKey(`${name}.key`);
      await openssl(
        "req",
        "-new",
        "-key",
        path(`${name}.key`),
        "-subj",
        `/CN=${name}`,
        "-out",
        path(`${name}.csr`),
      );
      await writeFile(path(`${name}.ext`), `${extensions.join("\n")}\n`);
      await openssl(
        "x509",
        "-req",
        "-in",
        path(`${name}.csr`),
        "-CA",
        path(`${ca}.pem`),
        "-CAkey",
        path(`${ca}.key`),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        path(`${name}.ext`),
        "-out",
        path(`${name}.pem`),
      );
      return { cert: path(`${name}.pem`), key: path(`${name}.key`) };
    };
    await makeCa("test-ca");
    await makeCa("other-ca");
    const server = await issue("xds-server", "test-ca", [
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "extendedKeyUsage=serverAuth",
    ]);
    const client = await issue("envoy-client", "test-ca", ["extendedKeyUsage=clientAuth"]);
    const otherClient = await issue("stranger-client", "other-ca", ["extendedKeyUsage=clientAuth"]);
    return {
      dir,
      ca: path("test-ca.pem"),
      server,
      client,
      otherCa: path("other-ca.pem"),
      otherClient,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
