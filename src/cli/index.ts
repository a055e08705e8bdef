#!/usr/bin/env node
/**
 * The `whatclient` command: `serve` runs the server; `ask` and `answer` try the
 * service from a terminal through the SDK; `selftest` checks a deployment;
 * `init-data` signs a test sign-in with the operator's bot token.
 */
// First: it must run before the modules below are evaluated (see the file).
import '../keep-tick-shape.js'
import { Command } from 'commander'
import { answerCommand } from './answer.js'
import { askCommand } from './ask.js'
import { initDataCommand } from './init-data.js'
import { selftestCommand } from './selftest.js'
import { serveCommand } from './serve.js'

const program = new Command()
  .name('whatclient')
  .description('WhatClient: which Telegram app does a user run?')
  .showHelpAfterError()

program.addCommand(serveCommand())
program.addCommand(askCommand())
program.addCommand(answerCommand())
program.addCommand(selftestCommand())
program.addCommand(initDataCommand())

await program.parseAsync()
