"""The other side of a legacy-client run, in this project's own dialect.

    peer.py register GATE SPOOL NAME PASSWORD   register through a gate (llfcchat's
                                                scrambled password, code from the spool)
    peer.py chat GATE NAME PASSWORD LOG SECONDS log in and act as a friend: accept an
                                                application, greet, acknowledge what
                                                arrives; every frame goes to LOG
    peer.py code SPOOL EMAIL SINCE              print the code mailed to EMAIL after
                                                SINCE (seconds since the epoch)

Only the standard library; used by tools/legacy-clients.sh.
"""
import glob, json, os, re, socket, struct, sys, time, urllib.request


def scramble(password):
    """The llfcchat client's xorString: each character XOR (length % 255)."""
    key = len(password) % 255
    return "".join(chr(ord(c) ^ key) for c in password)


def post(gate, path, body):
    request = urllib.request.Request(f"http://{gate}{path}", data=json.dumps(body).encode())
    return json.load(urllib.request.urlopen(request, timeout=10))


def code_for(spool, email, since, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in glob.glob(os.path.join(spool, "*.eml")):
            if os.path.getmtime(path) < since:
                continue
            mail = open(path).read()
            found = re.search(r"verification code is (\d{6,})", mail)
            if f"To: {email}" in mail and found:
                return found.group(1)
        time.sleep(0.1)
    sys.exit(f"no code for {email} in {spool}")


def register(gate, spool, name, password):
    email = f"{name}@example.com"
    since = time.time() - 1
    assert post(gate, "/get_varifycode", {"email": email})["error"] == 0
    answer = post(gate, "/user_register", {
        "user": name, "email": email, "passwd": scramble(password),
        "confirm": scramble(password), "varifycode": code_for(spool, email, since),
        "sex": 0, "icon": ":/res/head_1.jpg", "nick": name})
    assert answer["error"] == 0, answer
    print(answer["uid"])


def chat(gate, name, password, log_path, seconds):
    login = post(gate, "/user_login", {"email": f"{name}@example.com", "passwd": scramble(password)})
    assert login["error"] == 0, login
    sock = socket.create_connection((login["host"], int(login["port"])))
    sock.settimeout(1)
    log = open(log_path, "a", buffering=1)

    def send(msg_id, body):
        data = json.dumps(body).encode()
        sock.sendall(struct.pack(">HH", msg_id, len(data)) + data)

    def read_exact(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                sys.exit("closed by the server")
            data += chunk
        return data

    send(1005, {"uid": login["uid"], "token": login["token"]})
    beat = time.time()
    deadline = time.time() + seconds
    while time.time() < deadline:
        if time.time() - beat > 10:
            send(1023, {})
            beat = time.time()
        try:
            header = read_exact(4)
        except socket.timeout:
            continue
        msg_id, length = struct.unpack(">HH", header)
        sock.settimeout(5)
        body = json.loads(read_exact(length))
        sock.settimeout(1)
        log.write(json.dumps({"id": msg_id, "body": body}, ensure_ascii=False) + "\n")
        if msg_id == 1011:  # an application: accept it
            send(1013, {"touid": body["applyuid"], "back": "friend"})
        elif msg_id == 1014:  # accepted: greet
            send(1017, {"touid": body["uid"], "text_array": [
                {"unique_id": f"peer-greeting-{body['uid']}",  # one per friend
                 "content": "hello from the other dialect"}]})
        elif msg_id == 1019:  # a message: acknowledge it
            send(1101, {"message_ids": [m["message_id"] for m in body["chat_datas"]]})


if __name__ == "__main__":
    if sys.argv[1] == "register":
        register(*sys.argv[2:6])
    elif sys.argv[1] == "chat":
        chat(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]))
    elif sys.argv[1] == "code":
        print(code_for(sys.argv[2], sys.argv[3], float(sys.argv[4])))
    else:
        sys.exit(__doc__)
