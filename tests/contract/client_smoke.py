"""Gets a token with a standard OAuth 2.0 library (requests-oauthlib, the
client-credentials grant with HTTP Basic), then calls a few routes through
the client generated from openapi/openapi.json (openapi-python-client)
against a running server. Arguments come from the environment:
INCIDEX_URL, INCIDEX_CLIENT_ID, INCIDEX_CLIENT_SECRET (a reporter),
INCIDEX_ADMIN_TOKEN. Exits non-zero on the first surprise.

(openapi-python-client 0.29 generates a module for the token route that
does not import, because that route takes two media types; the token is
fetched the way OAuth 2.0 clients do instead.)"""

import os
import sys

from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from incidex_client import AuthenticatedClient
from incidex_client.api.reports import reports_list, reports_create
from incidex_client.api.search import search_search
from incidex_client.api.lessons import lessons_list
from incidex_client.api.admin import admin_list_operators
from incidex_client.models import ReportInput


def check(label, response, status):
    if response.status_code != status:
        print(f"{label}: {response.status_code} (expected {status}): {response.content[:300]!r}")
        sys.exit(1)
    print(f"{label}: {response.status_code}")
    return response.parsed


url = os.environ["INCIDEX_URL"]
# The test server speaks plain HTTP on loopback.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
client_id = os.environ["INCIDEX_CLIENT_ID"]
oauth = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
token = oauth.fetch_token(
    token_url=f"{url}/api/v1/auth/token",
    client_id=client_id,
    client_secret=os.environ["INCIDEX_CLIENT_SECRET"],
)
assert token["token_type"] == "Bearer", token
print("oauth2 client credentials: ok")
reporter = AuthenticatedClient(base_url=url, token=token["access_token"], timeout=30.0)
example = ReportInput.from_dict(
    {
        "title": "DNS resolvers overloaded after a configuration push",
        "summary": "Resolvers in two regions stopped answering after a configuration push.",
        "context": {"started_on": "2024-03-04", "country": "FR", "region": "europe", "scope": "regional", "operator_type": "mobile_operator"},
    }
)
created = check("reports_create", reports_create.sync_detailed(client=reporter, body=example), 201)
page = check("reports_list", reports_list.sync_detailed(client=reporter, mine=True, limit=5), 200)
results = check("search_search", search_search.sync_detailed(client=reporter, q="resolver", limit=5), 200)
check("lessons_list", lessons_list.sync_detailed(client=reporter, limit=5), 200)
admin = AuthenticatedClient(base_url=url, token=os.environ["INCIDEX_ADMIN_TOKEN"], timeout=30.0)
check("admin_list_operators", admin_list_operators.sync_detailed(client=admin), 200)
# The reporter is no admin: the shared 403 response is parsed too.
check("admin_list_operators as reporter", admin_list_operators.sync_detailed(client=reporter), 403)
print("generated client: ok")
