#!/usr/bin/env node
/**
 * The `whatclient` command: `serve` runs the server; `ask` and `answer` try the
 * service from a terminal through the SDK.
 */
import { Command } from 'commander'
import { answerCommand } from './answer.js'
import { askCommand } from './ask.js'
import { serveCommand } from './serve.js'

const program = new Command()
  .name('whatclient')
  .description('WhatClient: which Telegram app does a user run?')
  .showHelpAfterError()

program.addCommand(serveCommand())
program.addCommand(askCommand())
program.addCommand(answerCommand())

await program.parseAsync()
