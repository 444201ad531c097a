import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { freePortRun, freePorts, isPortFree } from '../src/index.js';

/** The first port the kernel gives outgoing connections as their local ports. */
async function ephemeralLow(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
  return Number(range.trim().split(/\s+/)[0]);
}

describe('free ports for servers started later', () => {
  it('are below the ephemeral range, where no outgoing connection takes them meanwhile', async () => {
    const low = await ephemeralLow();
    const ports = await freePorts(12);
    expect(new Set(ports).size).toBe(12);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(low);
      expect(await isPortFree(port)).toBe(true);
    }
  });

  it('are never handed out twice by one process', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 50; i += 1) {
      for (const port of await freePorts(2)) {
        expect(seen.has(port)).toBe(false);
        seen.add(port);
      }
    }
  });

  it('come as a run of consecutive free ports for a cluster', async () => {
    const low = await ephemeralLow();
    const base = await freePortRun(6);
    expect(base + 5).toBeLessThan(low);
    for (let port = base; port < base + 6; port += 1) expect(await isPortFree(port)).toBe(true);
    const others = await freePorts(20);
    expect(others.filter((port) => port >= base && port < base + 6)).toEqual([]);
  });
});
