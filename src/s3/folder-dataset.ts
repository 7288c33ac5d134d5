/**
 * `imageDatasetFromDirectory('s3://bucket/prefix', ...)`: the client made from the `s3` options, the bucket
 * listed into an index, and loaders over it that share that client. Imported on the first `s3://` directory
 * only (with the SDK behind it).
 */
import type { FileIndex, FromDirectoryOptions } from '../file-index.js';
import type { ImageLoader, ImageLoaderOptions } from '../loader.js';
import { createS3Context, resolveS3Options, type S3Options } from './client.js';
import { S3ImageLoader, SharedContext, splitS3Budget } from './folder-loader.js';
import { fromS3Directory, type ListedBytes } from './list.js';

export async function openS3Folder(
  url: string,
  listing: FromDirectoryOptions,
  s3: S3Options | undefined,
): Promise<{ index: FileIndex; loader: (options: ImageLoaderOptions) => ImageLoader }> {
  const options = resolveS3Options(s3);
  const ctx = await createS3Context(options, options.requestsInFlight + 4);
  const listed: ListedBytes = { total: 0, largest: 0 };
  let index: FileIndex;
  try {
    index = await fromS3Directory(ctx, url, listing, listed);
  } catch (err) {
    ctx.client.destroy();
    throw err;
  }
  const shared = new SharedContext(ctx);
  return {
    index,
    loader: (loaderOptions) =>
      new S3ImageLoader(index, loaderOptions, shared, splitS3Budget(loaderOptions, index, index.size, listed, options.requestsInFlight)),
  };
}
