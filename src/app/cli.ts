#!/usr/bin/env node
/**
 * `atlas-broker`, the command-line tool (the package's bin): runs the command named by its arguments with the
 * process environment (cli-commands.ts). The commands are imported once the process is prepared (entry.ts),
 * so `atlas-broker serve` starts as the image's entry point does.
 */
import { prepareEntry } from './entry.js'

await prepareEntry()
const { runCli } = await import('./cli-commands.js')
const code = await runCli(process.argv.slice(2), process.env)
if (code >= 0) process.exit(code)
