#!/usr/bin/env node
// bluegreen: start, follow and steer releases. The commands are in program.ts.
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2));
// A failure exits at once (a follow may still hold a connection); success lets output drain.
if (code !== 0) process.exit(code);
