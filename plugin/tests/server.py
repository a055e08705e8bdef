"""The real WhatClient server, started by the tests as a child process (the
built CLI: `npm test` builds it first), on a free loopback port."""
import os
import re
import signal
import subprocess
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "dist", "src", "cli", "index.js")


class ServerProcess:
    def __init__(self, key, **env):
        if not os.path.exists(CLI):
            raise RuntimeError("dist/ is missing: run `npm run build` (npm test does) first")
        self.key = key
        environment = dict(os.environ, PORT="0", HOST="127.0.0.1", API_SECRET_KEY=key, LOG_LEVEL="info")
        environment.update({k: str(v) for k, v in env.items()})
        self.process = subprocess.Popen(["node", CLI, "serve"], cwd=ROOT, env=environment,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = []
        for line in self.process.stdout:
            self.output.append(line)
            match = re.search(r"Server listening at (http://127\.0\.0\.1:\d+)", line)
            if match:
                self.url = match.group(1)
                break
        else:
            raise RuntimeError("server did not start: %s" % "".join(self.output))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)
        self.process.stdout.close()
