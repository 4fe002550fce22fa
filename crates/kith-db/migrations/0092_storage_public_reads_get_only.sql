-- The public-bucket policies of 0090 key on the public download route's path; they now also require a read
-- (GET or HEAD), so no other handler that might ever share that path prefix could lean on them.
alter policy kith_public_bucket_downloads on storage.buckets
  using (public
         and current_setting('request.path', true) like '/storage/v1/object/public/%'
         and current_setting('request.method', true) in ('GET', 'HEAD'));
alter policy kith_public_object_downloads on storage.objects
  using (current_setting('request.path', true) like '/storage/v1/object/public/%'
         and current_setting('request.method', true) in ('GET', 'HEAD')
         and exists (select 1 from storage.buckets b where b.id = bucket_id and b.public));
