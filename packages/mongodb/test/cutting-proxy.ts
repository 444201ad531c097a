import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the test database that can cut a client's connection the moment it
 * sends an `insert` into a given collection, before the database sees it: the driver then gets a
 * network error in the middle of the write, as when the database stops mid-request.
 */
export interface CuttingProxy {
  /** `mongodb://` URL of the proxy (direct connection, short timeouts). */
  readonly url: string;
  /** Cuts the next `insert` into this collection (once). */
  cutNextInsertInto(collection: string): void;
  /** Inserts cut so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

export async function startCuttingProxy(targetUrl: string): Promise<CuttingProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let armed: Buffer | undefined;
  let cuts = 0;
  const server = createServer((client) => {
    const upstream = createConnection(Number(target.port || 27017), target.hostname);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (chunk) => {
      // An OP_MSG `insert` names its collection right after the command name, as a BSON string.
      if (armed !== undefined && chunk.includes(armed)) {
        armed = undefined;
        cuts += 1;
        drop();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `mongodb://127.0.0.1:${port}/?directConnection=true&serverSelectionTimeoutMS=5000`,
    cutNextInsertInto(collection) {
      const name = Buffer.from(`${collection}\0`);
      const length = Buffer.alloc(4);
      length.writeInt32LE(name.length);
      armed = Buffer.concat([Buffer.from('insert\0'), length, name]);
    },
    get cuts() {
      return cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
