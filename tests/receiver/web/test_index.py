import httpx

from receiver.serving.server import RunningServer
from receiver.web.index import installed_version


async def test_the_root_answers_an_index_linking_the_docs(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        index = await http.get("/")
        assert index.status_code == 200
        body = index.json()
        assert body["service"] == "flowtrack"
        assert body["version"] == installed_version()
        assert body["links"]["docs"] == "/docs"
        assert body["links"]["openapi"] == "/openapi.json"
        for link in body["links"].values():
            assert (await http.get(link)).status_code in (200, 401), link
        document = (await http.get("/openapi.json")).json()
        assert document["paths"]["/"]["get"]["operationId"] == "getIndex"
