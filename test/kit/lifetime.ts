/**
 * What a test opens closes by itself: inside a test, when that test finishes
 * (passed or failed); outside one (a beforeAll), when the file's tests are
 * done. Tests may still close early; closing twice must be harmless.
 */
import { afterAll, onTestFinished, TestRunner } from 'vitest'

export interface Closable { close: () => Promise<void> | void }

const openForTheFile = new Set<Closable>()

// Registered when the kit is first imported, that is, by the test file's root suite.
afterAll(async () => {
  const all = [...openForTheFile]
  openForTheFile.clear()
  await Promise.all(all.map(async (thing) => thing.close()))
})

export function closeWhenDone<T extends Closable> (thing: T): T {
  if (TestRunner.getCurrentTest() !== undefined) onTestFinished(async () => { await thing.close() })
  else openForTheFile.add(thing)
  return thing
}
