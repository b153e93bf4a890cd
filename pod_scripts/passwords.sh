# shellcheck shell=sh
# Passwords in the pod scripts, shared by the gateway's redis-start.sh and the cache's
# cache-start.sh (both ConfigMaps ship this file); sourced, never run. The sourcing script
# defines die.
#
# A password reaches a file through the printf builtin and the CLI through REDISCLI_AUTH, never
# an argv, where `ps` would show it.

# The rule the config's check at preview mirrors (stack_config/keys.py). The HAProxy health
# checks send `AUTH <password>` as an inline command, and the config files hold the password as
# one token: whitespace, quotes and backslashes would break both.
check_password() {
    case $2 in
        *[[:space:]\"\'\\]* | *[[:cntrl:]]*)
            die "$1 must not contain whitespace, quotes, backslashes or control characters" ;;
    esac
}

# The variable holding the password of ACL user <user>: REDIS_PASSWORD for `default` (the
# clients, who send a password only), ACL_<USER>_PASSWORD for the others.
acl_password_variable() {
    case $1 in
        default) printf 'REDIS_PASSWORD\n' ;;
        '' | *[!a-z]*) die "bad ACL user name '$1'" ;;
        *) printf 'ACL_%s_PASSWORD\n' "$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')" ;;
    esac
}

# The hex SHA-256 of <password>, as an ACL rule takes it (#<hash>). printf is a builtin: the
# password reaches sha256sum on stdin, never in an argv.
password_hash() {
    printf '%s' "$1" | sha256sum | cut -c1-64
}

# The users of the template <file> (lines `user <name> <rules>`, redis_files/acl.py) as Redis
# reads them: each line gets the hash of the user's password and, while <variable>_ACCEPTED is
# set too (a rotation's window, docs/architecture.md "Rotation"), of that one as well: Redis
# accepts every password a user has. A user whose rules say `nopass` (the cache's clients without
# auth) is written as it is. Run it in a command substitution: a bad password exits it (non-zero).
acl_file_lines() {
    while read -r acl_keyword acl_user acl_rules; do
        [ "$acl_keyword" = user ] || continue
        case " $acl_rules " in
            *" nopass "*) printf 'user %s %s\n' "$acl_user" "$acl_rules"; continue ;;
        esac
        acl_variable=$(acl_password_variable "$acl_user") || exit 1
        # A failure in a command substitution passed as an argument would go unnoticed: assign first.
        acl_hashes=$(accepted_hashes "$acl_variable" "ACL user $acl_user") || exit 1
        printf 'user %s %s %s\n' "$acl_user" "$acl_rules" "$acl_hashes"
    done <"$1"
}

# `#<hash>` of the password in variable <variable> and, while <variable>_ACCEPTED is set, of that
# one too, space-separated: the password rules of a user that accepts both. Dies when <variable>
# is unset (<what> names whose password it is) or a password breaks check_password.
accepted_hashes() {
    eval "hashes_password=\${$1:-}"
    [ -n "$hashes_password" ] || die "environment variable $1 is not set (password of the $2)"
    check_password "$1" "$hashes_password"
    hashes="#$(password_hash "$hashes_password")"
    eval "hashes_accepted=\${${1}_ACCEPTED:-}"
    if [ -n "$hashes_accepted" ]; then
        check_password "${1}_ACCEPTED" "$hashes_accepted"
        hashes="$hashes #$(password_hash "$hashes_accepted")"
    fi
    printf '%s\n' "$hashes"
}
