# What Keystone reads from keystone.conf files, judged by oslo.config itself: Keystone's
# options registered as keystone-manage and the API register them, each file parsed in turn,
# every option's value (as JSON when it is plain data, else repr(); or the exception get() raises), and [database] connection as
# SQLAlchemy splits it. Usage: python oslo-judge.py FILE... -> a JSON list, one entry per file.
import json
import sys

import keystone.common.sql.core as sql_core
import keystone.conf as ksconf
from oslo_config import cfg
from sqlalchemy.engine import make_url

CONF = ksconf.CONF
ksconf.configure()
ksconf.set_config_defaults()
sql_core.initialize()


def shown(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return repr(v)


def values():
    out = {}
    for group in sorted(CONF.keys()):
        attr = CONF[group]
        if not isinstance(attr, cfg.ConfigOpts.GroupAttr):
            out['DEFAULT.' + group] = shown(attr)
            continue
        for name in sorted(attr):
            try:
                out[group + '.' + name] = shown(attr[name])
            except Exception as e:  # what Keystone would hit reading it
                out[group + '.' + name] = 'ERR ' + type(e).__name__
    return out


def url():
    try:
        conn = CONF.database.connection
    except Exception:
        return None
    if not conn:
        return None
    u = make_url(conn)
    return {'drivername': u.drivername, 'username': u.username, 'password': u.password,
            'host': u.host, 'port': u.port, 'database': u.database}


results = []
for f in sys.argv[1:]:
    CONF(args=[], project='keystone', default_config_files=[f])
    results.append({'values': values(), 'url': url()})
json.dump(results, sys.stdout)
