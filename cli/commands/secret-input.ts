import { invalidArgument } from '../settings.ts';

/** One trailing line break dropped (what `echo` or a file adds); anything else is the value. Pure. */
export function valueOfInput(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/**
 * The value of a secret from stdin: piped in, read to the end; on a terminal, typed after a prompt
 * on stderr without echo (raw mode), up to Enter. Never printed, never logged.
 */
export async function readSecretValue(name: string): Promise<string> {
  const stdin = process.stdin;
  const text = stdin.isTTY ? await typed(name) : await piped();
  const value = valueOfInput(text);
  if (value === '') throw invalidArgument(`no value on stdin for ${name}: pipe it in, e.g.  printf %s "$VALUE" | tickwise secrets set ${name}`);
  return value;
}

async function piped(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function typed(name: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(`value of ${name} (not shown; Enter to finish): `);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return done();
        if (char === '\u0003') return done(invalidArgument('interrupted: no secret set'));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else value += char;
      }
    };
    stdin.on('data', onData);
  });
}
