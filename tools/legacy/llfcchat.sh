# Driving the llfcchat client (ling).
# Sourced by tools/legacy-clients.sh, which sets the variables they use
# (work, bin, P, profile, data, shots, the displays L, L2, S, S2, ...).

# ---- llfcchat: ling -----------------------------------------------------------
# Coordinates are the client's fixed layout on a 1280x1024 screen.

llfcchat_start() { # DISPLAY: starts a client there; its pid in llfcchat_pid
    start_qt_client "$llfcchat_bin" llfcchat "$((P + 3))" "$1"
    llfcchat_pid=$REPLY
}

llfcchat_login() { # DISPLAY PASSWORD
    local logins
    logins=$(metric im_chat_logins_total)
    click "$1" 160 310 && type_text "$1" ling@example.com
    click "$1" 160 346 && type_text "$1" "$2"
    click "$1" 150 421 # 登录
    wait_for "ling logged in on a chat server" at_least im_chat_logins_total $((logins + 1))
    sleep 1
}

llfcchat_register_and_login() {
    step "[$profile] ling registers in llfcchat's dialog with the mailed code"
    shot "$L" llfcchat-login
    click "$L" 150 457 # 注册
    sleep 1
    local since code
    since=$(date +%s)
    click "$L" 170 151 && type_text "$L" ling
    click "$L" 170 182 && type_text "$L" ling@example.com
    click "$L" 160 213 && type_text "$L" lingpass1
    click "$L" 160 244 && type_text "$L" lingpass1
    click "$L" 241 275 # 获取
    code=$(mailed_code ling@example.com "$since")
    click "$L" 135 275 && type_text "$L" "$code"
    shot "$L" llfcchat-register-filled
    click "$L" 82 387 # 确认
    wait_for "ling registered" uid_of_nonempty ling
    sleep 1
    shot "$L" llfcchat-registered
    check "ling registered with the code mailed to ling@example.com"
    sleep 5 # the dialog returns to the login form after its 5 s countdown

    step "[$profile] ling resets the password in llfcchat's dialog, logs in with the new one"
    local before
    before=$(sql "SELECT password_hash FROM users WHERE name = 'ling'")
    sleep 1
    click "$L" 260 378 # 忘记密码
    sleep 1
    since=$(date +%s)
    click "$L" 178 132 && type_text "$L" ling
    click "$L" 176 181 && type_text "$L" ling@example.com
    click "$L" 241 230 # 获取
    code=$(mailed_code ling@example.com "$since")
    click "$L" 135 230 && type_text "$L" "$code"
    click "$L" 178 280 && type_text "$L" lingpass2
    shot "$L" llfcchat-reset-filled
    click "$L" 82 398 # 确认
    wait_for "ling's password changed" password_changed ling "$before"
    sleep 1
    shot "$L" llfcchat-reset
    click "$L" 217 398 # 返回
    sleep 1
    llfcchat_login "$L" lingpass2
    shot "$L" llfcchat-logged-in
    check "the new password works; the client followed the gate's port string to a chat server"
}

llfcchat_apply() { # NAME: search for NAME and apply
    click "$L" 165 30
    type_text "$L" "$1"
    sleep 0.5
    click "$L" 180 105
    sleep 1.5
    shot "$L" "llfcchat-found-$1"
    click "$L" 514 453
    sleep 1.5
    click "$L" 440 635
    sleep 0.5
    click "$L" 246 30 # clear the search: the conversation list again
    sleep 1
}

llfcchat_accept() { # the newest application, in the contacts' "new friends" page
    click "$L" 25 168 # 联系人 (the side bar)
    sleep 1
    click "$L" 158 120 # 新的朋友
    sleep 1.5
    shot "$L" llfcchat-applications
    click "$L" 950 78 # 添加, on the newest application
    sleep 1.5
    shot "$L" llfcchat-accept-dialog
    click "$L" 440 635 # 确认
    sleep 1
    click "$L" 25 108 # back to the conversations
    sleep 1
}

llfcchat_befriend_mei() {
    step "[$profile] ling applies to mei; mei accepts and greets; ling answers"
    llfcchat_apply mei
    wait_for "mei received ling's application (1011)" peer_saw '"id": 1011.*"name": "ling"'
    wait_for "the pair's first message" friends ling mei
    sleep 1
    shot "$L" llfcchat-new-friend
    click "$L" 180 100 # the conversation at the top
    sleep 1.5
    shot "$L" llfcchat-conversation
    llfcchat_say "hi mei, from llfcchat"
    wait_for "mei received ling's message" peer_saw 'hi mei, from llfcchat'
    sleep 1
    shot "$L" llfcchat-answered
    check "ling and mei are friends; text both ways across the two chat servers"
}

llfcchat_say() { # TEXT, in the open conversation
    click "$L" 680 750
    type_text "$L" "$1"
    click "$L" 985 879
}

# A second login elsewhere, then messages sent while ling was offline
# (together.sh has the steps both clients share).
llfcchat_elsewhere_and_offline() {
    step "[$profile] ling logs in a second time elsewhere; llfcchat says so on the first screen"
    second_login llfcchat lingpass2 "$L" "$L2"
    check "the first client was told (1021) and closed its session"

    step "[$profile] kai writes to ling while ling is offline; ling logs in and reads it"
    # Nothing is pushed to this client at login: it loads its threads and
    # their history itself, and what history showed it counts as delivered.
    offline_message llfcchat ling lingpass2 "$L"
    # The client lists threads in the server's order (oldest first): mei,
    # shu, kai.
    click "$L" 180 225
    sleep 1.5
    shot "$L" llfcchat-offline-message
    check "the message sent while ling was offline arrived at the next login"
}
