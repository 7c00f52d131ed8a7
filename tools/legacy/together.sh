# The two Qt clients and imcli together.
# Sourced by tools/legacy-clients.sh, which sets the variables they use
# (work, bin, P, profile, data, shots, the displays L, L2, S, S2, ...).

# ---- the two Qt clients and imcli together ------------------------------------

ling_and_shu() {
    step "[$profile] ling (llfcchat) applies to shu (project_show); shu accepts; they chat"
    llfcchat_apply shu
    wait_for "ling's application to shu stored" applied ling shu
    project_show_accept
    wait_for "ling and shu are friends" friends ling shu
    sleep 1
    shot "$S" project_show-accepted-ling
    shot "$L" llfcchat-accepted-by-shu
    click "$L" 180 100 # the new conversation, at the top
    sleep 1
    llfcchat_say "hi shu, from llfcchat"
    wait_for "ling's message to shu stored" stored_text ling shu 'hi shu, from llfcchat'
    sleep 2 # the message opens shu's chat dialog on ling
    shot "$S" project_show-from-ling
    project_show_say "hi ling, from project_show"
    wait_for "shu's message to ling stored" stored_text shu ling 'hi ling, from project_show'
    sleep 2
    shot "$L" llfcchat-from-shu
    check "the two original clients, each in its own dialect, are friends and chat both ways"
}

imcli_start() {
    step "[$profile] kai registers in imcli (tmux) with the mailed code and logs in"
    tmux_ new-session -d -s kai -x 100 -y 30 "$bin/imcli --gate $gate"
    wait_for "imcli's login form" imcli_shows "imcli — log in"
    imcli_key C-r
    wait_for "imcli's registration form" imcli_shows "imcli — register"
    local since
    since=$(date +%s)
    imcli_type kai@example.com && imcli_key Tab
    imcli_type kai && imcli_key Tab
    imcli_type kaipass12 && imcli_key Enter
    wait_for "imcli asks for the code" imcli_shows "A code was mailed"
    imcli_type "$(mailed_code kai@example.com "$since")" && imcli_key Enter
    wait_for "kai registered" imcli_shows "Registered"
    imcli_key Enter
    wait_for "kai online" imcli_shows "online"
    imcli_screen >"$shots/imcli-online.txt"
}

imcli_select() { # NAME: Down until the conversation pane is NAME's
    for _ in 1 2 3 4; do
        imcli_shows "┌ $1 " && return 0
        imcli_key Down
        sleep 0.3
    done
    imcli_shows "┌ $1 "
}

all_with_kai() {
    step "[$profile] kai applies to ling, who accepts in llfcchat; shu applies to kai, who accepts in imcli; the three chat"
    imcli_type "/add ling hello from kai" && imcli_key Enter
    wait_for "kai's application to ling stored" applied kai ling
    llfcchat_accept
    wait_for "ling and kai are friends" friends ling kai
    wait_for "kai is told" imcli_shows "ling accepted"
    project_show_apply kai
    wait_for "kai sees shu's application" imcli_shows "shu wants to be your friend"
    imcli_type "/accept shu" && imcli_key Enter
    wait_for "shu and kai are friends" friends shu kai

    wait_for "kai's conversation with ling" imcli_select ling
    imcli_type "hi ling, from imcli" && imcli_key Enter
    wait_for "kai's message to ling stored" stored_text kai ling 'hi ling, from imcli'
    sleep 1
    click "$L" 180 100 # kai's conversation, at the top
    sleep 1
    shot "$L" llfcchat-from-kai
    llfcchat_say "hi kai, from llfcchat"
    wait_for "kai reads ling's answer" imcli_shows "ling: hi kai, from llfcchat"

    wait_for "kai's conversation with shu" imcli_select shu
    imcli_type "hi shu, from imcli" && imcli_key Enter
    wait_for "kai's message to shu stored" stored_text kai shu 'hi shu, from imcli'
    sleep 2 # the message moves shu's chat dialog to kai
    shot "$S" project_show-from-kai
    project_show_say "hi kai, from project_show"
    wait_for "kai reads shu's answer" imcli_shows "shu: hi kai, from project_show"
    imcli_screen >"$shots/imcli-chatted.txt"
    shot "$L" llfcchat-with-kai
    shot "$S" project_show-with-kai
    check "imcli, llfcchat and project_show users are friends and chat with each other"
}

# second_login CLIENT PASSWORD FIRST SECOND: the user of CLIENT (llfcchat,
# project_show), logged in on screen FIRST, logs in again on screen SECOND;
# then both of its clients quit.
second_login() {
    local client=$1 password=$2 first_screen=$3 second_screen=$4
    local pid_of="${client}_pid" kicks first_pid
    kicks=$(metric im_chat_kicks_total)
    first_pid=${!pid_of}
    "${client}_start" "$second_screen"
    "${client}_login" "$second_screen" "$password"
    wait_for "the first session replaced" at_least im_chat_kicks_total $((kicks + 1))
    sleep 1
    shot "$first_screen" "$client-replaced"
    shot "$second_screen" "$client-second-login"
    kill "$first_pid" "${!pid_of}"
    wait "$first_pid" "${!pid_of}" 2>/dev/null || true
}

# offline_message CLIENT NAME PASSWORD SCREEN: kai writes to NAME, who is
# offline; NAME logs in with CLIENT on SCREEN and the message is delivered.
offline_message() {
    local client=$1 name=$2 password=$3 screen=$4
    local text="while you were away, $name"
    wait_for "kai's conversation with $name" imcli_select "$name"
    imcli_type "$text" && imcli_key Enter
    wait_for "the offline message stored" stored_text kai "$name" "$text"
    ! delivered kai "$name" "$text" || { echo "FAILED: delivered to no one" >&2; exit 1; }
    "${client}_start" "$screen"
    "${client}_login" "$screen" "$password"
    wait_for "the offline message delivered" delivered kai "$name" "$text"
}

