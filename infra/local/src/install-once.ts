import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Installs into a staging folder and moves it into place only once complete, with an
 * `.installed` marker, so that an interrupted install never looks like a finished one.
 */
export async function installOnce(
  dir: string,
  install: (stagingDir: string) => Promise<void>,
): Promise<void> {
  const staging = `${dir}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await install(staging);
    await writeFile(`${staging}/.installed`, `${new Date().toISOString()}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** True when the file or folder exists. */
export async function pathExists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** True when {@link installOnce} completed in this folder. */
export const isInstalledIn = (dir: string): Promise<boolean> =>
  pathExists(path.join(dir, '.installed'));
