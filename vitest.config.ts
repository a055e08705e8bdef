import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // Tests run the SDK from its sources, as they run the server's (tsconfig.json
    // does the same for types); what an installer gets is tested from the build
    // and from a packed tarball (test/sdk/pack.test.ts).
    alias: { 'whatclient-sdk': fileURLToPath(new URL('./packages/sdk/src/index.ts', import.meta.url)) }
  },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real servers and child processes; two at a time fits 2 cores.
    maxWorkers: 2
  }
})
