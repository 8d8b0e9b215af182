import http.server, json, random, socketserver, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); body = json.loads(self.rfile.read(n))
        if random.random() < 0.08:
            msg = b'{"error": {"message": "overloaded", "type": "ServiceUnavailable"}}'
            self.send_response(503); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(msg))); self.end_headers(); self.wfile.write(msg); return
        self.send_response(200); self.send_header("Content-Type", "text/event-stream"); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
        def chunk(s):
            b = s.encode(); self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b)); self.wfile.flush()
        k = random.randint(3, 8)
        time.sleep(0.01 + random.random() * 0.05)
        for i in range(k):
            chunk('data: ' + json.dumps({"id": "x", "object": "text_completion", "model": "test/model", "choices": [{"index": 0, "text": "tok ", "finish_reason": None}]}) + '\n\n')
            time.sleep(0.002 + random.random() * 0.01)
        chunk('data: ' + json.dumps({"id": "x", "object": "text_completion", "model": "test/model", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": k, "total_tokens": 20 + k}}) + '\n\n')
        chunk('data: [DONE]\n\n'); self.wfile.write(b"0\r\n\r\n"); self.wfile.flush()
class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
