/** `portcullis quarantine` — placeholder until its module lands; it says so and fails. */
export async function run(_args: string[]): Promise<number> {
  process.stderr.write('portcullis quarantine: not available in this build yet\n');
  return 2;
}
