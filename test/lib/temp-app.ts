/**
 * Fixtures for tests that write files: temporary directories removed after the test file, and an
 * app whose cloud assembly goes into one of them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnWaitConditionHandle, Stack, StackProps } from 'aws-cdk-lib';

/**
 * A maker of fresh temporary directories named `<prefix>XXXXXX`, all removed after the calling test
 * file's tests (it registers an `afterAll`, so call it at the top level of a test file).
 */
export function tempDirMaker(prefix: string): () => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** A stack in an app writing to the cloud assembly directory `outdir`, with one resource so that it validates. */
export function appStackIn(outdir: string, props: StackProps = {}): { app: App; stack: Stack } {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Stack', props);
  new CfnWaitConditionHandle(stack, 'Placeholder');
  return { app, stack };
}
