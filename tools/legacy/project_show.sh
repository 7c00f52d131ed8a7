# Driving the project_show client (shu).
# Sourced by tools/legacy-clients.sh, which sets the variables they use
# (work, bin, P, profile, data, shots, the displays L, L2, S, S2, ...).

# ---- project_show: shu -------------------------------------------------------

project_show_start() { # DISPLAY: starts a client there; its pid in project_show_pid
    start_qt_client "$project_show_bin" chatsystem1 "$((P + 4))" "$1"
    project_show_pid=$REPLY
}

project_show_register() {
    step "[$profile] shu registers in project_show's dialog with the mailed code"
    shot "$S" project_show-login
    click "$S" 367 549 # 注册
    sleep 1
    local since code
    since=$(date +%s)
    click "$S" 679 247 && type_text "$S" shu
    click "$S" 669 335 && type_text "$S" shupass12
    click "$S" 669 423 && type_text "$S" shupass12
    click "$S" 679 512 && type_text "$S" shu@example.com
    click "$S" 930 602 # 获取验证码
    code=$(mailed_code shu@example.com "$since")
    sleep 0.5
    press "$S" Return # "sent" message box
    click "$S" 637 602 && type_text "$S" "$code"
    shot "$S" project_show-register-filled
    click "$S" 904 700 # 确认
    wait_for "shu registered" uid_of_nonempty shu
    sleep 1
    shot "$S" project_show-registered
    press "$S" Return # "registered" message box
    sleep 1
    check "shu registered with the code mailed to shu@example.com"
}

project_show_reset() {
    step "[$profile] shu resets the password in project_show's dialog"
    local before since code
    before=$(sql "SELECT password_hash FROM users WHERE name = 'shu'")
    click "$S" 867 549 # 忘记密码
    sleep 1
    since=$(date +%s)
    click "$S" 658 213 && type_text "$S" shupass34
    click "$S" 658 324 && type_text "$S" shupass34
    click "$S" 672 436 && type_text "$S" shu@example.com
    click "$S" 880 546 # 获取验证码
    code=$(mailed_code shu@example.com "$since")
    sleep 0.5
    press "$S" Return # "sent" message box
    click "$S" 590 546 && type_text "$S" "$code"
    shot "$S" project_show-reset-filled
    click "$S" 846 660 # 确认
    wait_for "shu's password changed" password_changed shu "$before"
    sleep 1
    shot "$S" project_show-reset
    press "$S" Return # "reset" message box
    sleep 1
    check "shu's password was reset with the code mailed to shu@example.com"
}

project_show_login() { # DISPLAY PASSWORD
    local logins
    logins=$(metric im_chat_logins_total)
    click "$1" 669 398 && type_text "$1" shu@example.com
    click "$1" 669 441 && type_text "$1" "$2"
    click "$1" 630 503
    wait_for "shu logged in on a chat server" at_least im_chat_logins_total $((logins + 1))
    sleep 2
}

project_show_apply() { # NAME: the add-friend dialog: search, apply
    click "$S" 110 870
    sleep 1
    click "$S" 640 200 && type_text "$S" "$1"
    click "$S" 930 200 # 查找
    sleep 1.5
    shot "$S" "project_show-found-$1"
    click "$S" 918 323 # 添加
    sleep 1
    press "$S" Return # "sent" message box
    close_dialog "$S" 查找
}

project_show_accept() { # the first application in the contacts tab
    click "$S" 135 145 # 联系人
    sleep 1.5
    shot "$S" project_show-applications
    click "$S" 1250 293 # 接受
    sleep 1
}

project_show_say() { # TEXT, in the chat dialog
    # Without a window manager the dialog takes the keyboard only once it
    # has been clicked: the first click activates it, the second focuses
    # the input.
    click "$S" 669 609
    click "$S" 669 609
    type_text "$S" "$1"
    click "$S" 1034 609
}

project_show_befriend_mei() {
    step "[$profile] shu logs in, applies to mei; mei accepts and greets; shu answers"
    project_show_login "$S" shupass34
    shot "$S" project_show-logged-in
    check "the client followed the gate's port string to a chat server's project_show port"
    project_show_apply mei
    wait_for "mei received shu's application (1011)" peer_saw '"id": 1011.*"name": "shu"'
    wait_for "shu and mei are friends" friends shu mei
    wait_for "mei's greeting to shu stored" stored_text mei shu 'hello from the other dialect'
    sleep 2
    shot "$S" project_show-greeted
    project_show_say "hi mei, from project_show"
    wait_for "mei received shu's message" peer_saw 'hi mei, from project_show'
    sleep 1
    shot "$S" project_show-answered
    check "shu and mei are friends; text both ways"
}

project_show_elsewhere_and_offline() {
    step "[$profile] shu logs in a second time elsewhere"
    second_login project_show shupass34 "$S" "$S2"
    check "the first session closed (project_show has no notice for it: its client only logs it)"

    step "[$profile] kai writes to shu while shu is offline; shu logs in and reads it"
    # Pushed once the client asks (its 1023), acknowledged by its 1024.
    offline_message project_show shu shupass34 "$S"
    sleep 1 # the message opens the chat dialog
    shot "$S" project_show-offline-message
    check "the message sent while shu was offline arrived at the next login"
}
