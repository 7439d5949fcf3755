import { defineConfig } from 'vitest/config'

// Two projects: `unit` is fast and needs no services; `integration` runs real Postgres, Redis and the
// real Baileys client against wa-sim. `npm test` runs both.
// libsignal (inside Baileys, used by wa-sim's simulated phones in the test process) prints whole session
// records with console.log; they say nothing a test needs and bury the report.
const LIBSIGNAL_CHATTER =
  /^(Closing session|Closing open session|Removing old closed session|Session already|Migrating session)/

export default defineConfig({
  test: {
    onConsoleLog: (log) => !LIBSIGNAL_CHATTER.test(log),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['*/test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['*/test/integration/**/*.test.ts'],
          globalSetup: ['./test-support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
