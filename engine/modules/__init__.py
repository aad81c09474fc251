"""The http modules, in nginx's module order (what ``auto/modules`` writes into ngx_modules[]).

Order matters as in nginx: it decides the order of handlers inside a phase and of the
header/body filters. Adding a module means adding it to this list; the core imports none.
"""

BUILTIN_MODULES = [
    "engine.http.core_module:CoreModule",
    "engine.modules.log:LogModule",
    "engine.modules.map:MapModule",
    "engine.modules.upstream:UpstreamModule",
    "engine.modules.static:StaticModule",
    "engine.modules.autoindex:AutoindexModule",
    "engine.modules.index:IndexModule",
    "engine.modules.try_files:TryFilesModule",
    "engine.modules.auth_request:AuthRequestModule",
    "engine.modules.auth_basic:AuthBasicModule",
    "engine.modules.access:AccessModule",
    "engine.modules.limit_conn:LimitConnModule",
    "engine.modules.limit_req:LimitReqModule",
    "engine.modules.realip:RealipModule",
    "engine.modules.geo:GeoModule",
    "engine.modules.split_clients:SplitClientsModule",
    "engine.modules.referer:RefererModule",
    "engine.modules.rewrite:RewriteModule",
    "engine.modules.proxy:ProxyModule",
    "engine.modules.proxy_cache:ProxyCacheModule",
    "engine.modules.empty_gif:EmptyGifModule",
    "engine.modules.secure_link:SecureLinkModule",
    "engine.modules.upstream_hash:UpstreamHashModule",
    "engine.modules.upstream_balancers:IpHashModule",
    "engine.modules.upstream_balancers:LeastConnModule",
    "engine.modules.upstream_random:UpstreamRandomModule",
    "engine.modules.stub_status:StubStatusModule",
    "engine.modules.range:RangeModule",
    "engine.modules.gzip:GzipModule",
    "engine.modules.charset:CharsetModule",
    "engine.modules.sub_filter:SubFilterModule",
    "engine.modules.headers:HeadersModule",
    "engine.modules.unmodelled:UnmodelledModule",
    "engine.lua.module:LuaModule",
]
