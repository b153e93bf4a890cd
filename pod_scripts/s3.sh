# shellcheck shell=sh
# S3 requests of the backup Job and the restore init container (backup.sh, restore-backup.sh);
# sourced, never run. curl signs them (--aws-sigv4, curl >= 7.75), path-style:
# <S3_ENDPOINT>/<S3_BUCKET>/<key>.
#
# Environment: S3_ENDPOINT (scheme://host[:port]), S3_BUCKET, S3_PREFIX, S3_REGION, and the
# credentials AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Secret gateway.backup.s3.credentialsSecret).
# The credentials reach curl through its config on stdin (-K -), never through argv, where `ps`
# would show them. Keys and the prefix hold only characters that SigV4 leaves unencoded
# (stack_config checks gateway.backup.s3.prefix), so they go into URLs as they are.

S3_REQUEST_TIMEOUT_SECONDS=${S3_REQUEST_TIMEOUT_SECONDS:-600}
# Keys per page of a listing (S3's own limit and default: 1000); the tests make it small.
S3_LIST_PAGE_SIZE=${S3_LIST_PAGE_SIZE:-1000}

s3_require_env() {
    require_env S3_ENDPOINT S3_BUCKET S3_PREFIX S3_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
}

# curl with the signature and the credentials: s3_request <payload SHA-256> <curl arguments...>
# Prints the body; fails (curl's status) on an HTTP error, with the server's answer on stderr.
# S3 wants the payload's hash in x-amz-content-sha256, which curl 7.88 does not send on its own
# (it signs the header it is given): an upload's real hash, which the server checks against the
# body, or UNSIGNED-PAYLOAD.
s3_request() {
    s3_payload=$1
    shift
    printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
        curl -K - --silent --show-error --fail-with-body --max-time "$S3_REQUEST_TIMEOUT_SECONDS" \
            --aws-sigv4 "aws:amz:$S3_REGION:s3" -H "x-amz-content-sha256: $s3_payload" "$@"
}

# A request without a body of its own: s3_curl <curl arguments...>
s3_curl() {
    s3_request UNSIGNED-PAYLOAD "$@"
}

s3_object_url() {
    printf '%s/%s/%s\n' "$S3_ENDPOINT" "$S3_BUCKET" "$1"
}

# Percent-encodes <text> as SigV4 wants query values: everything but A-Z a-z 0-9 - . _ ~.
uri_encode() {
    printf '%s' "$1" | od -An -v -tx1 | tr ' ' '\n' | awk '
        BEGIN { for (i = 0; i < 256; i++) code[sprintf("%02x", i)] = i }
        NF == 0 { next }
        /^(3[0-9]|4[1-9a-f]|5[0-9a]|6[1-9a-f]|7[0-9a]|2d|2e|5f|7e)$/ { printf "%c", code[$0]; next }
        { printf "%%%s", toupper($0) }'
}

# The keys under <prefix>, one per line, in the server's order (S3: by name), every page of
# ListObjectsV2. Query parameters are given sorted and encoded, as SigV4's canonical form has them.
s3_list() {
    list_token=
    while :; do
        list_query="list-type=2&max-keys=$S3_LIST_PAGE_SIZE&prefix=$(uri_encode "$1")"
        [ -z "$list_token" ] || list_query="continuation-token=$(uri_encode "$list_token")&$list_query"
        list_reply=$(s3_curl "$S3_ENDPOINT/$S3_BUCKET?$list_query") || return 1
        # One tag per line, whatever the server's line breaks.
        list_lines=$(printf '%s\n' "$list_reply" | tr -d '\r\n' | sed 's/</\n</g')
        printf '%s\n' "$list_lines" | sed -n 's/^<Key>//p'
        list_token=$(printf '%s\n' "$list_lines" | sed -n 's/^<NextContinuationToken>//p' | head -n 1)
        printf '%s\n' "$list_lines" | grep -q '^<IsTruncated>true' || return 0
        [ -n "$list_token" ] || { log "ERROR: a truncated listing without a continuation token"; return 1; }
    done
}

# Uploads <file> as <key>; <sha256> is the file's: the server checks the body against it, and
# keeps it in the object's metadata (x-amz-meta-sha256) for the restore.
s3_put() {
    s3_request "$3" -T "$1" -H "x-amz-meta-sha256: $3" "$(s3_object_url "$2")" >/dev/null
}

# Downloads <key> into <file>.
s3_get() {
    s3_curl -o "$2" "$(s3_object_url "$1")"
}

# The object's SHA-256 as the backup recorded it (x-amz-meta-sha256), or nothing.
s3_recorded_sha256() {
    s3_curl --head "$(s3_object_url "$1")" | tr -d '\r' | sed -n 's/^[Xx]-[Aa]mz-[Mm]eta-[Ss]ha256: *//p'
}

s3_delete() {
    s3_curl -X DELETE "$(s3_object_url "$1")" >/dev/null
}

# The backups of this master set under the prefix, oldest first (their names sort by time);
# fails when the listing does.
s3_backups() {
    backups_listed=$(s3_list "$S3_PREFIX/$MASTER_SET-") || return 1
    printf '%s\n' "$backups_listed" | { grep '\.rdb$' || true; } | sort
}
