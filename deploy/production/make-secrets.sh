#!/bin/sh
# Writes the secrets deploy/production/docker-compose.yml reads, once: the master key, the two
# database roles' passwords and URLs, and empty provider token files for you to fill in.
# Existing files are kept (running it again never replaces a key). Back the master key up
# (docs/operations.md) before the first start: without it the database cannot be opened.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets tls

write() { # write FILE VALUE: only when FILE does not exist yet
  if [ -e "secrets/$1" ]; then echo "kept    secrets/$1"; else printf '%s\n' "$2" > "secrets/$1"; echo "wrote   secrets/$1"; fi
}

# Hex passwords: nothing in them needs escaping inside a URL.
owner_password=$(openssl rand -hex 24)
server_password=$(openssl rand -hex 24)
if [ -e secrets/database_owner_password ]; then owner_password=$(cat secrets/database_owner_password); fi
write master_key "$(openssl rand -base64 32)"
write database_owner_password "$owner_password"
write database_owner_url "postgres://postcert_owner:$owner_password@postgres:5432/postcert"
write database_url "postgres://postcert_server:$server_password@postgres:5432/postcert"
for token in sms_gateway_token identity_provider_token; do
  if [ ! -e "secrets/$token" ]; then : > "secrets/$token"; echo "created secrets/$token (empty: put your provider's token in it)"; fi
done
