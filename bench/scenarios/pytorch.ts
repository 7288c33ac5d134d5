/**
 * Finds a Python that can run `pytorch.py` (torch, torchvision and psutil importable) and builds its command
 * line. The interpreter on PATH may not be the one the packages were installed for, so a few are tried.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PythonInfo {
  python: string;
  torch: string;
  torchvision: string;
}

/** `pytorch.py` beside this file (sources) or in the source tree next to the built one (`dist/`). */
export function scriptPath(name: string): string | null {
  const candidates = [new URL(`./${name}`, import.meta.url), new URL(`../../../bench/scenarios/${name}`, import.meta.url)];
  for (const url of candidates) {
    const file = fileURLToPath(url);
    if (existsSync(file)) return file;
  }
  return null;
}

function probe(python: string, code: string): string | null {
  try {
    return execFileSync(python, ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 }).trim();
  } catch {
    return null;
  }
}

/** Candidate interpreters: the one asked for, else `python3` on PATH and the system one. */
export function pythonCandidates(preferred?: string): string[] {
  if (preferred) return [preferred];
  return [...new Set(['python3', '/usr/bin/python3', '/usr/local/bin/python3'])];
}

/** The first interpreter that imports torch, torchvision and psutil, or why none does. */
export function findTorch(preferred?: string): PythonInfo | { missing: string } {
  const code = 'import torch, torchvision, psutil; print(torch.__version__ + " " + torchvision.__version__)';
  for (const python of pythonCandidates(preferred)) {
    const out = probe(python, code);
    if (out) {
      const [torch, torchvision] = out.split(' ');
      return { python, torch, torchvision };
    }
  }
  return { missing: 'no python3 found that imports torch, torchvision and psutil (Debian: python3-torch python3-torchvision python3-psutil)' };
}

/** The first interpreter that imports PIL (for the libjpeg-turbo timings), or null. */
export function findPil(preferred?: string): { python: string; pil: string } | null {
  for (const python of pythonCandidates(preferred)) {
    const out = probe(python, 'import PIL; from PIL import features; print(PIL.__version__ + " " + str(features.version("jpg")))');
    if (out) return { python, pil: out };
  }
  return null;
}
