// What the waits and the init connect to, one type per kind of server: a system derives them
// from its file (src/pulp/targets.ts), the shared stages only read them.

/**
 * The protocol the service's own client speaks to an AMQP broker, which is what the wait
 * checks (Pulp: kombu's py-amqp for amqp://, python-qpid for qpid://).
 */
export type BrokerProtocol = 'amqp-0-9-1' | 'amqp-0-10';

export interface MongoTarget {
  kind: 'mongodb';
  /** The seeds as written, IPv6 bracketed: "db:27017,db2:27017". */
  address: string;
  seeds: { host: string; port: number }[];
  database: string;
  username: string | undefined;
  password: string | undefined;
  replicaSet: string | undefined;
  tls: boolean;
  tlsVerify: boolean;
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
}

export interface AmqpTarget {
  kind: 'amqp';
  /** host:port, IPv6 bracketed. */
  address: string;
  /** What Pulp speaks there; see BROKER_PROTOCOLS for how each is checked. */
  protocol: BrokerProtocol;
  /** The URL scheme as written (amqp, pyamqp, qpid, ...), for messages. */
  scheme: string;
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  vhost: string | undefined;
  tls: boolean;
  /**
   * Whether the broker's certificate is checked, as Pulp's client does: py-amqp (0-9-1) checks
   * the chain only with celery_require_ssl (against cacert) and never the host name; an
   * amqps:// URL alone encrypts without checking. python-qpid checks chain and name.
   */
  tlsVerify: 'none' | 'chain' | 'chain-and-name';
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  /** The SASL mechanism Pulp's client names ([tasks] login_method; py-amqp's default AMQPLAIN). */
  loginMethod: string | undefined;
  /** Which key of the service's file named this endpoint: "tasks.broker_url". */
  source: string;
}

export interface MysqlTarget {
  kind: 'mysql';
  /** host:port, IPv6 bracketed. */
  address: string;
  host: string;
  port: number;
  username: string;
  password: string | undefined;
  /** The database the service selects as it connects (the URL's path). */
  database: string;
  /** Which key of the service's file named this endpoint: "database.connection". */
  source: string;
}

export type Target = MongoTarget | AmqpTarget | MysqlTarget;
